"""The disk spool and the inbox in front of it: order, acknowledgement, restarts, the cap."""
from celery_scope.collector import spool as spool_module
from celery_scope.collector.inbox import Inbox
from celery_scope.collector.spool import Spool


def drain(spool):
    taken = []
    while batch := spool.take(7):
        taken += batch
        spool.ack(len(batch))
    return taken


def test_messages_come_back_in_order_and_once_acknowledged_are_gone(tmp_path):
    spool = Spool(tmp_path, 1 << 30)
    for number in range(100):
        spool.append(b"raw %d" % number if number % 2 else {"body": number})
    assert spool.take(3) == spool.take(3) == [{"body": 0}, b"raw 1", {"body": 2}]  # until acked
    assert len(drain(spool)) == 100 and len(spool) == 0 and spool.size == 0


def test_what_is_not_acknowledged_survives_a_restart(tmp_path):
    spool = Spool(tmp_path, 1 << 30)
    for number in range(50):
        spool.append(b"m%d" % number)
    spool.ack(len(spool.take(20)))
    spool.take(10)  # taken, never acknowledged: a crash before the commit
    spool.close()
    reopened = Spool(tmp_path, 1 << 30)
    assert len(reopened) == 30
    assert drain(reopened) == [b"m%d" % number for number in range(20, 50)]


def test_a_torn_last_record_is_ignored(tmp_path):
    spool = Spool(tmp_path, 1 << 30)
    spool.append(b"whole")
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    with open(segment, "ab") as file:
        file.write(b"B\xff\x00\x00\x00half")  # a crash in the middle of a record
    assert drain(Spool(tmp_path, 1 << 30)) == [b"whole"]


def test_past_its_cap_the_oldest_go_and_are_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 10_000)
    spool = Spool(tmp_path, 40_000)
    for number in range(200):
        spool.append(b"%04d" % number + b"x" * 996)
    assert spool.size <= 40_000 + 10_000 and spool.dropped > 0
    kept = drain(spool)
    assert len(kept) + spool.dropped == 200 and kept[-1].startswith(b"0199")


def test_the_inbox_spills_to_disk_past_its_bound_and_while_told_to(tmp_path):
    inbox = Inbox(Spool(tmp_path, 1 << 30), memory_bytes=100)
    for number in range(25):
        inbox.put(b"%09d" % number)  # 9 bytes each: 12 fit in memory
    assert inbox.backlog == 25 and len(inbox.spool) == 13 and inbox.memory_size == 108
    taken = []
    while True:
        batch, from_spool = inbox.next_batch(4, 0.01)
        if not batch:
            break
        taken += batch
        if from_spool:
            inbox.acknowledge(len(batch))
    assert taken == [b"%09d" % number for number in range(25)]  # oldest first
    assert inbox.memory_size == 0
    inbox.spill(True)
    inbox.put("while the store is away")
    assert len(inbox.spool) == 1


def test_a_batch_stops_at_its_byte_bound_from_memory_and_from_the_spool(tmp_path):
    """What the writer folds at once stays bounded whatever the messages weigh."""
    inbox = Inbox(Spool(tmp_path, 1 << 30), memory_bytes=1 << 30)
    for number in range(10):
        inbox.put(b"%d" % number + b"x" * 999)  # 1,000 bytes each
    batch, from_spool = inbox.next_batch(100, 0.1, most_bytes=3000)
    assert len(batch) == 3 and not from_spool
    assert len(inbox.next_batch(100, 0.1)[0]) == 7  # the default bound is far above these
    spool = Spool(tmp_path / "alone", 1 << 30)
    for number in range(10):
        spool.append(b"y" * 1000)
    assert len(spool.take(100, 2500)) == 3  # records are whole: the bound is passed by one
    assert len(spool.take(100)) == 10
