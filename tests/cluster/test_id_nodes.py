"""Ids stay unique across the processes of a cluster: each serving process claims its own id
node (the sequence's last digit) in the global database (platform/id_nodes.py, ADR 0417)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qianbao.platform import id_nodes, ids
from tests.conftest import empty_database_url

HOLD = """
import sys, time
from qianbao.platform import id_nodes, ids
held = id_nodes.claim_for_this_process(sys.argv[1])
print(held.node, ids.new_id(7), flush=True)
time.sleep(60)
"""


def test_two_nodes_never_make_the_same_id_in_the_same_microsecond() -> None:
    a, b = ids.Sequence(1), ids.Sequence(2)
    made: dict[int, list[int]] = {1: [], 2: []}

    def run(seq: ids.Sequence) -> None:
        made[seq.node].extend(seq.next() for _ in range(20_000))

    threads = [threading.Thread(target=run, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for node, values in made.items():
        assert values == sorted(set(values)), "strictly increasing within a process"
        assert {v % ids.NODES for v in values} == {node}
    assert not set(made[1]) & set(made[2])
    now_us = time.time_ns() // 1000
    assert abs(made[1][-1] - now_us) < 2_000_000  # still the clock (created_ms stays true)


def test_changing_node_keeps_the_sequence_increasing() -> None:
    seq = ids.Sequence(0)
    before = [seq.next() for _ in range(1000)]
    seq.use_node(9)
    after = seq.next()
    assert after > before[-1] and after % ids.NODES == 9
    with pytest.raises(ValueError):
        seq.use_node(10)


def test_new_ids_keep_their_shape_and_time() -> None:
    made = ids.new_id(7)
    assert len(made) == 18 and made.isdigit() and ids.bucket_of(made) == 7
    assert ids.created_ms(made) == pytest.approx(time.time() * 1000, abs=5_000)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_processes_claim_distinct_nodes_and_a_tenth_is_refused(engine: str, tmp_path: Path) -> None:
    url = empty_database_url(engine, tmp_path, "global.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True, env=env
    )
    held: list[id_nodes.IdNode] = []
    try:
        assert other.stdout is not None
        node_text, made = other.stdout.readline().split()
        assert made[15] == node_text  # its ids end their sequence in its node
        held = [id_nodes.claim(url) for _ in range(len(id_nodes.SERVER_NODES) - 1)]
        nodes = {int(node_text)} | {h.node for h in held}
        assert nodes == set(id_nodes.SERVER_NODES)  # all distinct, node 0 never handed out
        with pytest.raises(id_nodes.NoFreeIdNode, match="held by another running process"):
            id_nodes.claim(url)
        other.kill()
        other.wait(timeout=10)
        deadline = time.monotonic() + 10
        while True:  # the dead process's node comes free (at once on SQLite; PG: session end)
            try:
                again = id_nodes.claim(url)
                break
            except id_nodes.NoFreeIdNode:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert again.node == int(node_text)
        again.release()
    finally:
        other.kill()
        other.wait(timeout=10)
        for h in held:
            h.release()
