"""``harness locustfile NAME``: the path of a shipped locustfile, for ``locust -f``."""

from __future__ import annotations

import typer


def locustfile(
    name: str = typer.Argument(..., help="The provider: anthropic, cardgenius, keepa, openai or spapi."),
) -> None:
    """Print the path of the locustfile shipped for NAME, so a plain install can run
    `locust -f "$(harness locustfile openai)" --host http://127.0.0.1:8080/openai`
    (needs `pip install "ratelimit-harness[locust]"`)."""
    from harness.locust_support.locustfiles import NAMES, path

    if name not in NAMES:
        typer.echo(f"error: no shipped locustfile {name!r}; choose one of {', '.join(NAMES)}", err=True)
        raise typer.Exit(2)
    typer.echo(str(path(name)))
