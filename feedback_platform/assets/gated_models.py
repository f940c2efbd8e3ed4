"""The dbt models after the agreement gate, as one dbt asset definition: the gated review models
(``models/review/gated``: review pairs, item status, the open queue) and the rows of the next
dataset versions with contributor impact (``models/publication``).

One definition, not two, because both wait for the same Python step (``review_agreement``, the
Krippendorff gate) and a dbt build costs 6-8 s however few models it builds: a run of the whole
pipeline builds them all at once. The definition is subsettable, so a drop's run builds only
the review models and ``publish_datasets`` only the publication's (``PUBLICATION_MODELS``).
"""

import dagster as dg
from dagster_dbt import DbtCliResource, build_dbt_asset_selection, dbt_assets
from dagster_duckdb import DuckDBResource

from feedback_platform.assets.transformation import DbtBuildConfig, dbt_build, translator
from feedback_platform.dbt_project import dbt_project
from feedback_platform.resources import PlatformResource


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select="path:models/review/gated path:models/publication",
    name="gated_models",
    pool="duckdb",
)
def gated_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    platform: PlatformResource,
    duckdb: DuckDBResource,
):
    """The selected models after the agreement gate, in one ``dbt build``. A test of several
    models runs only when all of them are built (``buildable``): a drop's run rebuilds the
    anchor set's rows for the queue's gold items, and the test that no dataset row has an
    anchor's prompt must wait for the publication to rebuild the dataset rows as well."""
    yield from dbt_build(context, config, dbt, platform, duckdb, indirect_selection="buildable")


#: The dataset rows and contributor impact: published on their own cadence, not by every drop.
PUBLICATION_MODELS = build_dbt_asset_selection([gated_models], dbt_select="path:models/publication")

#: The anchor set's rows and the review pairs they read: the open queue's gold items show
#: anchors, so a drop's run, which leaves the rest of the publication to its own cadence, builds
#: them with the review models (an event drop's run selects no review pair otherwise, and on a
#: new home there is none yet). Without the tests that no dataset row has an anchor's prompt:
#: they test the dataset rows, which such a run does not rebuild (every build of those runs them).
ANCHOR_ROWS = build_dbt_asset_selection(
    [gated_models],
    dbt_select="review_pairs anchor_set_rows",
    dbt_exclude="test_name:not_in_anchor_set",
)
