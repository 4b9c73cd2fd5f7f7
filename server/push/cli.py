"""`flask push …`: VAPID keys, one sweep of the outbox, and the clock that schedules sweeps."""

import json
import logging
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from redis.exceptions import RedisError

from server import jobs
from server.push.vapid import KEY_FILE, generate_keys

push_cli = AppGroup("push", help="Web push: VAPID keys and delivery.")
log = logging.getLogger(__name__)


@push_cli.command("keys")
@click.option("--instance", is_flag=True, help="Keep them in instance/vapid.json instead.")
@click.option("--replace", is_flag=True, help="Replace existing instance keys.")
def keys(instance: bool, replace: bool) -> None:
    """Generate a VAPID key pair: printed for the environment, or kept in instance/.

    Changing the keys ends every device's subscription: each must subscribe again.
    """
    pair = generate_keys()
    if not instance:
        click.echo(f"HAVEN_VAPID_PUBLIC_KEY={pair['public_key']}")
        click.echo(f"HAVEN_VAPID_PRIVATE_KEY={pair['private_key']}")
        return
    key_file = Path(current_app.instance_path) / KEY_FILE
    if key_file.exists() and not replace:
        raise click.ClickException(
            f"{key_file} exists; --replace would end every device's subscription."
        )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps(pair))
    key_file.chmod(0o600)
    click.echo(f"Kept in {key_file}. Public key: {pair['public_key']}")


@push_cli.command("sweep")
def sweep_once() -> None:
    """Send every delivery that is due and take every escalation step that is due, now."""
    from server.push.delivery import sweep

    click.echo(json.dumps(sweep()))


@push_cli.command("clock")
@click.option("--once", is_flag=True, help="Schedule one sweep and stop.")
def clock(once: bool) -> None:
    """Schedule the sweep on rq every HAVEN_PUSH_SWEEP_SECONDS (Procfile `clock`).

    Redis being away is logged and tried again next tick: the outbox keeps everything.
    """
    from server.push.delivery import sweep

    interval = current_app.config["PUSH_SWEEP_SECONDS"]
    while True:
        queue = jobs.queue()
        if queue is None:
            raise click.ClickException("Set REDIS_URL: without it the web process sweeps itself.")
        try:
            # One id per tick: clocks running side by side schedule one sweep, not several.
            tick = int(time.time() // interval)
            queue.enqueue(sweep, job_id=f"haven-push-sweep-{tick}", job_timeout=600)
        except RedisError:
            log.warning("Redis is not reachable; the sweep will be scheduled next tick")
        if once:
            return
        time.sleep(interval)
