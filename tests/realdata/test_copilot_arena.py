"""Copilot Arena's CSV is not event-shaped and has one record broken across lines: a real
malformed drop. Every record must be accounted for, none may stop the drop."""

from __future__ import annotations

import shutil

from feedback_platform.ingest.load import ingest_file
from feedback_platform.warehouse import connect
from tests.conftest import TEST_SALT, query


def test_a_real_malformed_csv_is_quarantined_record_by_record(settings, copilot_arena_path):
    drop = settings.events_landing_dir / "arena.csv"
    shutil.copy(copilot_arena_path, drop)
    con = connect(settings)
    result = ingest_file(con, drop, user_salt=TEST_SALT)
    con.close()

    assert result.rows_read == 113  # the records SOURCE.txt counts
    assert result.rows_valid == 0
    assert result.reasons == {"missing_field:event_id": 112, "invalid_csv": 1}
    [(raw_text,)] = query(
        settings, "select raw_text from raw.quarantined_events where reason = 'invalid_csv'"
    )
    assert "tkinter" in raw_text  # the broken record's own text is kept
