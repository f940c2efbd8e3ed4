"""What sqlfluff's jinja templater renders for ``adapter.dispatch(name)(...)``: the project's
dispatched macros (cross_database.sql) as a call of a function of that name. Which
implementation dbt would pick depends on the target, which lint has none of; the call is the
shape every implementation has."""


def dispatch(macro_name: str, macro_namespace: str | None = None):
    def call(*arguments: object) -> str:
        return f"{macro_name}({', '.join(str(argument) for argument in arguments)})"

    return call
