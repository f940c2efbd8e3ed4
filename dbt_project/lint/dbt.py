"""What sqlfluff's jinja templater renders for dbt's cross-database macros (``dbt.concat``,
``dbt.type_bigint()``, ...), which only dbt itself defines. Lint needs SQL of the right shape
there, not dbt's exact text: the macros' output is templated code, which sqlfluff parses but
does not lint or fix."""


def concat(fields: list[str]) -> str:
    return f"concat({', '.join(fields)})"


def hash(field: str) -> str:  # shadows the builtin, to be dbt's `dbt.hash`
    return f"md5(cast({field} as varchar))"


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + interval ({interval}) {datepart})"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"date_diff('{datepart}', {first_date}, {second_date})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def type_bigint() -> str:
    return "bigint"


def type_int() -> str:
    return "integer"


def type_string() -> str:
    return "varchar"


def type_timestamp() -> str:
    return "timestamp"


def array_construct(inputs: list[str], data_type: str) -> str:
    return f"cast([{', '.join(inputs)}] as {data_type}[])"
