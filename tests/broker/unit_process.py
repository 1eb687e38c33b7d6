"""A unit owner in its own OS process, for the tests: ``python -m tests.broker.unit_process
DATA_DIR UNIT NATS_URL``. It opens the platform owning only UNIT with the NATS relay, prints
``ready`` and runs until its stdin closes (or it is killed)."""

from __future__ import annotations

import sys
from pathlib import Path

from qianbao.bootstrap import open_platform
from tests.conftest import fast_settings


def main() -> None:
    data_dir, unit, url = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    settings = fast_settings(
        data_dir,
        owned_units=(unit,),
        relay_transport="nats",
        nats_url=url,
        broker_republish_after_s=1.0,
    )
    p = open_platform(settings)
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        p.close()


if __name__ == "__main__":
    main()
