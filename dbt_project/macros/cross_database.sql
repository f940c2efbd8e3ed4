{#- The few functions dbt has no cross-database macro for. Each dispatches on the adapter, so the
    models stay portable: DuckDB is the embedded default, `default__` is ANSI-ish SQL that Spark
    accepts, and Trino gets its own spelling where it differs. -#}

{#- Levenshtein distance between two strings: the number of single-character edits.
    Exact costs time in the product of the lengths, so it is bounded: where a text (for DuckDB,
    the part that differs once the common prefix and suffix are stripped) is longer than
    var('edit_distance_max_chars'), the distance is the longer one's length instead, an upper
    bound found in linear time ("everything that differs was rewritten"). Under the bound the
    result is exact, as before; above it no input makes a run quadratic. -#}
{% macro edit_distance(left, right) -%}
    {{ return(adapter.dispatch('edit_distance')(left, right)) }}
{%- endmacro %}

{% macro _bounded_edit_distance(distance, left, right) -%}
    case
        when length({{ left }}) > {{ var('edit_distance_max_chars') }}
            or length({{ right }}) > {{ var('edit_distance_max_chars') }}
            then greatest(length({{ left }}), length({{ right }}))
        else {{ distance }}({{ left }}, {{ right }})
    end
{%- endmacro %}

{% macro default__edit_distance(left, right) -%}
    {{ _bounded_edit_distance('levenshtein', left, right) }}
{%- endmacro %}

{% macro trino__edit_distance(left, right) -%}
    {{ _bounded_edit_distance('levenshtein_distance', left, right) }}
{%- endmacro %}

{#- DuckDB's levenshtein fills the whole quadratic table, and an edit usually keeps most of the
    text: stripping the common prefix and then the common suffix first gives the same distance
    (an optimal alignment can always match them) for a fraction of the work: 8.3 s -> 3.3 s for
    390,000 edited outputs at 10M events. The one-element list_transform calls bind each
    intermediate value once (a `let`), as the engine does not share subexpressions inside the
    case that calls this only for edited outputs. -#}
{% macro duckdb__edit_distance(left, right) -%}
    list_transform(
        [{{ _common_prefix_length(left, right) }}],
        lambda prefix: list_transform(
            [{'left': substr({{ left }}, prefix + 1), 'right': substr({{ right }}, prefix + 1)}],
            lambda rest: list_transform(
                [{{ _common_prefix_length('reverse(rest.left)', 'reverse(rest.right)') }}],
                lambda suffix: list_transform(
                    [{
                        'left': left(rest.left, length(rest.left) - suffix),
                        'right': left(rest.right, length(rest.right) - suffix)
                    }],
                    lambda middle: {{ _bounded_edit_distance('levenshtein', 'middle.left', 'middle.right') }}
                )[1]
            )[1]
        )[1]
    )[1]
{%- endmacro %}

{#- The number of leading characters two strings share (DuckDB). -#}
{% macro _common_prefix_length(left, right) -%}
    coalesce(
        list_position(
            list_transform(
                list_zip(string_split({{ left }}, ''), string_split({{ right }}, '')),
                lambda pair: pair[1] = pair[2]
            ),
            false
        ) - 1,
        least(length({{ left }}), length({{ right }}))
    )
{%- endmacro %}

{#- Runs of whitespace collapsed to one space, ends trimmed: "a  b\n" and "a b" are the same
    text. -#}
{% macro normalize_whitespace(text) -%}
    {{ return(adapter.dispatch('normalize_whitespace')(text)) }}
{%- endmacro %}

{% macro default__normalize_whitespace(text) -%}
    trim(regexp_replace({{ text }}, '\\s+', ' '))
{%- endmacro %}

{% macro duckdb__normalize_whitespace(text) -%}
    trim(regexp_replace({{ text }}, '\s+', ' ', 'g'))
{%- endmacro %}

{#- The text with no whitespace at all (the characters `\s` matches: space, tab, newline, form
    feed, carriage return). Texts equal once normalized are equal without whitespace, so this
    cheap key (no regular expression) settles most comparisons before `normalize_whitespace`.
    Five `replace` calls, as DuckDB runs them twice as fast as one `translate`. -#}
{% macro without_whitespace(text) -%}
    replace(replace(replace(replace(replace(
        {{ text }}, ' ', ''), chr(9), ''), chr(10), ''), chr(12), ''), chr(13), '')
{%- endmacro %}

{#- The prompt's holdout bucket, 0 to 99: a hash (md5) of the prompt with its whitespace removed,
    so one prompt, however spaced, always falls in the same split. Computed when a candidate row
    is built, so publishing a dataset does not hash every prompt again. -#}
{% macro prompt_bucket(text) -%}
    {{ return(adapter.dispatch('prompt_bucket')(text)) }}
{%- endmacro %}

{#- DuckDB's md5_number reads the 16 bytes of the digest as one little-endian 128-bit integer;
    the bucket is that number mod 100. Engines without a 128-bit integer get the same remainder
    byte by byte: byte i (hex characters 2i+1 and 2i+2 of the digest) weighs 256^i mod 100, and
    the sum of the weighted bytes (at most 16 * 255 * 99) fits any integer type. `hex_byte` is
    the engine's conversion of a two-character hex string to an integer, `{}` standing for it. -#}
{% macro _little_endian_digest_mod_100(hex_digest, hex_byte) -%}
    {%- set terms = [] -%}
    {%- for position in range(16) -%}
        {%- set byte = 'substr(' ~ hex_digest ~ ', ' ~ (2 * position + 1) ~ ', 2)' -%}
        {%- do terms.append(hex_byte.replace('{}', byte) ~ ' * ' ~ (256 ** position % 100)) -%}
    {%- endfor -%}
    cast(({{ terms | join(' + ') }}) % 100 as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro default__prompt_bucket(text) -%}
    {{ _little_endian_digest_mod_100(
        'md5(' ~ without_whitespace(text) ~ ')', 'cast(conv({}, 16, 10) as int)'
    ) }}
{%- endmacro %}

{#- md5_number is a UHUGEINT: the bucket is cast to the bigint the other engines give -#}
{% macro duckdb__prompt_bucket(text) -%}
    cast(md5_number({{ without_whitespace(text) }}) % 100 as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro trino__prompt_bucket(text) -%}
    {{ _little_endian_digest_mod_100(
        'to_hex(md5(to_utf8(' ~ without_whitespace(text) ~ ')))', 'from_base({}, 16)'
    ) }}
{%- endmacro %}

{#- True when the text has something besides whitespace. -#}
{% macro has_text(text) -%}
    {{ return(adapter.dispatch('has_text')(text)) }}
{%- endmacro %}

{% macro default__has_text(text) -%}
    ({{ without_whitespace(text) }} <> '')
{%- endmacro %}

{#- a search that stops at the first non-whitespace character, instead of copying the text -#}
{% macro duckdb__has_text(text) -%}
    regexp_matches({{ text }}, '\S')
{%- endmacro %}

{#- True when the two texts are the same once whitespace is normalized. Identical texts settle at
    once, different ones on a whitespace-free copy; the regular expression runs only for the rare
    pairs that are equal without whitespace but not as they are. -#}
{% macro same_text(left, right) -%}
    (case
        when {{ left }} = {{ right }} then true
        when {{ without_whitespace(left) }} = {{ without_whitespace(right) }}
            then {{ normalize_whitespace(left) }} = {{ normalize_whitespace(right) }}
        else false
    end)
{%- endmacro %}

{#- The exact median of a numeric column (an aggregate). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro trino__median(expression) -%}
    approx_percentile({{ expression }}, 0.5)
{%- endmacro %}

{#- An array literal of the given expressions (all of one type). -#}
{% macro array_of(items) -%}
    {{ return(adapter.dispatch('array_of')(items)) }}
{%- endmacro %}

{% macro default__array_of(items) -%}
    array({{ items | join(', ') }})
{%- endmacro %}

{% macro duckdb__array_of(items) -%}
    [{{ items | join(', ') }}]
{%- endmacro %}

{#- The first element of an array (arrays count from 1 here, as in SQL's standard). -#}
{% macro first_element(items) -%}
    {{ return(adapter.dispatch('first_element')(items)) }}
{%- endmacro %}

{% macro default__first_element(items) -%}
    element_at({{ items }}, 1)
{%- endmacro %}

{% macro duckdb__first_element(items) -%}
    {{ items }}[1]
{%- endmacro %}

{#- A date's month and year in English, as people read them: "October 2026". -#}
{% macro month_and_year(date) -%}
    {{ return(adapter.dispatch('month_and_year')(date)) }}
{%- endmacro %}

{% macro default__month_and_year(date) -%}
    date_format({{ date }}, 'MMMM yyyy')
{%- endmacro %}

{% macro duckdb__month_and_year(date) -%}
    strftime({{ date }}, '%B %Y')
{%- endmacro %}

{% macro trino__month_and_year(date) -%}
    date_format({{ date }}, '%M %Y')
{%- endmacro %}

{#- The last non-null value of the expression in the window that follows (`over ...`): DuckDB
    puts `ignore nulls` inside the call, the standard (Spark, Trino) after it. -#}
{% macro last_value_ignoring_nulls(expression) -%}
    {{ return(adapter.dispatch('last_value_ignoring_nulls')(expression)) }}
{%- endmacro %}

{% macro default__last_value_ignoring_nulls(expression) -%}
    last_value({{ expression }}) ignore nulls
{%- endmacro %}

{% macro duckdb__last_value_ignoring_nulls(expression) -%}
    last_value({{ expression }} ignore nulls)
{%- endmacro %}

{#- dbt-spark's dateadd goes through unix seconds, so `minute` and finer drop the fraction of a
    second (a 29:59.966 gap became 29:59 and no longer split a session): timestampadd is exact
    to the microsecond for every part. Found first by the `dbt` dispatch (dbt_project.yml). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
