"""``artgan studio``: a local web page to play with a trained model."""

from __future__ import annotations

import signal

import click

from ..studio import StudioError
from ..studio.server import make_server
from .errors import generator_source

DEFAULT_PORT = 8765


@click.command("studio")
@generator_source
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on. Anything but loopback (0.0.0.0 for every "
                   "interface) requires the access token printed at start.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True, help="Port to listen on; 0 picks a free one.")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the page in your web browser.")
def studio_command(ckpt: str, device: str, no_ema: bool, host: str, port: int,
                   open_browser: bool) -> None:
    """Start a web page to play with a trained model: a grid of samples (new seed,
    class), an interpolation between any two under a slider, full-size downloads, and
    uploads to project into the model or restore. Ctrl-C stops it.

    The model runs on this machine; the page needs no network beyond it. Image-to-image
    checkpoints (restorers, translators) offer only their upload action.

    \b
    artgan studio --ckpt runs/paintings            # then open http://127.0.0.1:8765/
    artgan studio --ckpt runs/paintings --port 0 --open
    artgan studio --ckpt runs/paintings --host 0.0.0.0   # on your network, with a token
    """
    from ..studio.session import Studio

    studio = Studio.load(ckpt, device=device, ema=not no_ema)
    try:
        server = make_server(studio, host=host, port=port)
    except OSError as exc:
        studio.close()
        hint = " (--port 0 picks a free one)" if exc.errno in (98, 48, 10048) else ""
        raise StudioError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") \
            from None
    G = studio.G
    weights = "EMA weights" if studio.ema else "raw weights"
    what = {"noise": "samples, interpolation, projection and restoration",
            "restorer": "restoration only (an image-to-image restorer)",
            "translator": "translation only (an image-to-image translator)"}[studio.mode]
    click.echo(f"artgan studio: {G.component_name}, {G.resolution} px, from {ckpt} "
               f"({weights}, {next(G.parameters()).device}); {what}.")
    if server.token:
        click.echo(f"Listening on {host}:{server.port}, which other machines may reach: "
                   f"the page needs this address with its token (keep it private).")
    click.echo(f"Open {server.url} in a browser. Ctrl-C stops the studio.")

    def terminate(_signum, _frame):
        raise KeyboardInterrupt

    # SIGINT too, as artgan run does: Python maps it to KeyboardInterrupt only when it was
    # not ignored at start, and a process started in the background of a script inherits
    # it ignored, so Ctrl-C (or kill -INT) would not stop the studio
    previous = {s: signal.signal(s, terminate) for s in (signal.SIGTERM, signal.SIGINT)}
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.close()
    click.echo("Studio stopped.")
