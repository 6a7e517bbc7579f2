"""Unit tests of the beat read side: schedules in words, expected fire times by Celery's
arithmetic (DST included), args as Celery renders them, matching runs to fire times, the
status rules, and RedBeat's JSON read back."""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.schedules import crontab, schedule
from redbeat.decoder import RedBeatJSONEncoder

from celery_scope.beat.entries import BeatEntry, schedule_text
from celery_scope.beat.expected import fire_times, next_fire
from celery_scope.beat.matching import (
    LATE,
    MISSED,
    ON_TIME,
    PENDING,
    Run,
    match,
    rendered_args,
    rendered_kwargs,
)
from celery_scope.beat.redbeat import decoder
from celery_scope.beat.status import (
    DISABLED,
    MISSED_STATUS,
    NOT_RUN_YET,
    OVERRAN,
    beat_looks_down,
    entry_status,
)


def app_in(zone: str) -> Celery:
    made = Celery("t", set_as_current=False)
    made.conf.timezone = zone
    return made


UTC_APP = app_in("UTC")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("value", "zone", "text"), [
    pytest.param(schedule(300), "UTC", "every 5 minutes", id="minutes"),
    pytest.param(schedule(2), "UTC", "every 2 seconds", id="seconds"),
    pytest.param(schedule(1.5), "UTC", "every 1.5 seconds", id="fraction"),
    pytest.param(schedule(3600), "UTC", "every hour", id="one-hour"),
    pytest.param(schedule(86400 * 2), "UTC", "every 2 days", id="days"),
    pytest.param(schedule(3600, relative=True), "UTC", "every hour, on the clock",
                 id="relative"),
    pytest.param(crontab(minute=0, hour=2, day_of_week=1), "Europe/Paris",
                 "at 02:00 on Mondays (Europe/Paris)", id="weekly"),
    pytest.param(crontab(), "UTC", "every minute (UTC)", id="every-minute"),
    pytest.param(crontab(minute="*/15"), "UTC", "every 15 minutes (UTC)", id="step"),
    pytest.param(crontab(minute=5), "UTC", "every hour at minute 5 (UTC)", id="hourly"),
    pytest.param(crontab(minute=0, hour="9-17", day_of_week="mon-fri"), "UTC",
                 "at minute 0 of hours 9-17 on weekdays (UTC)", id="office-hours"),
    pytest.param(crontab(minute="0,30", hour="8,20"), "UTC",
                 "at 08:00, 08:30, 20:00 and 20:30 (UTC)", id="listed-times"),
    pytest.param(crontab(minute=0, hour=0, day_of_month=1, month_of_year="1,7"), "UTC",
                 "at 00:00 on day 1 of the month in January and July (UTC)", id="months"),
    pytest.param(datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "UTC",
                 "once, at 2030-01-02 03:04:05 UTC", id="clocked"),
])
def test_schedule_text(value, zone, text):
    assert schedule_text(value, zone) == text


def test_every_two_seconds_from_its_last_run():
    value = schedule(2, app=UTC_APP)
    anchor = at("2025-06-01 12:00:00.250")
    assert fire_times(value, anchor, anchor, anchor + 7) == [anchor + 2, anchor + 4, anchor + 6]


def test_a_plain_interval_adds_seconds_as_celery_does():
    """The arithmetic shortcut gives what Celery's own remaining_estimate gives."""
    value = schedule(2, app=UTC_APP)
    last = datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    probe = schedule(2, app=UTC_APP, nowfun=lambda: last)
    assert next_fire(value, last.timestamp()) == (last + probe.remaining_estimate(last)
                                                  ).timestamp()


def test_a_crontab_every_minute_fires_on_each_minute():
    value = crontab(app=UTC_APP)
    anchor = at("2025-06-01 12:00:00.400")  # the run of 12:00, sent a little late
    assert fire_times(value, anchor, anchor, at("2025-06-01 12:03:30")) == [
        at("2025-06-01 12:01"), at("2025-06-01 12:02"), at("2025-06-01 12:03")]


@pytest.mark.parametrize(("start", "expected_utc"), [
    pytest.param("2025-03-28 12:00", ["2025-03-29 01:00", "2025-03-30 01:00",
                                      "2025-03-31 00:00"], id="spring-forward"),
    pytest.param("2025-10-24 12:00", ["2025-10-25 00:00", "2025-10-26 00:00",
                                      "2025-10-27 01:00"], id="fall-back"),
])
def test_crontab_at_two_in_paris_across_a_dst_change(start, expected_utc):
    """02:00 Paris is 01:00 UTC in winter and 00:00 UTC in summer; on the night the clocks
    go forward 02:00 does not exist and Celery fires at 03:00 CEST (01:00 UTC); on the
    night they go back it fires at the first 02:00 (CEST, 00:00 UTC)."""
    value = crontab(minute=0, hour=2, app=app_in("Europe/Paris"))
    times = fire_times(value, at(start), at(start), at(start) + 3 * 86400)
    assert times == [at(moment) for moment in expected_utc]
    paris = [datetime.fromtimestamp(moment, ZoneInfo("Europe/Paris")).strftime("%H:%M")
             for moment in times]
    assert paris[0] == "02:00" and paris[-1] == "02:00"


def test_a_crontab_in_its_own_zone():
    """django-celery-beat's crontabs carry their zone: the same 02:00 in New York."""
    value = crontab(minute=0, hour=2, app=UTC_APP)
    value.tz = ZoneInfo("America/New_York")
    assert next_fire(value, at("2025-06-01 12:00")) == at("2025-06-02 06:00")


def test_a_clocked_time_fires_once():
    moment = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert next_fire(moment, moment.timestamp() - 10) == moment.timestamp()
    assert next_fire(moment, moment.timestamp()) is None


def test_args_rendered_as_the_worker_reports_them():
    """What a task-received event carries for a task beat sent (beat sends args as a list)."""
    sender = Celery("t", broker="memory://", set_as_current=False)
    for args, kwargs in (((), {}), (("tick",), {}), ((16, 16), {"label": "x é"}),
                         ((list(range(2000)),), {})):
        message = sender.amqp.as_task_v2("id", "name", list(args), dict(kwargs))
        assert rendered_args(args) == message.headers["argsrepr"]
        assert rendered_kwargs(kwargs) == message.headers["kwargsrepr"]


def run(moment: float, state: str = "SUCCESS", started: float | None = None) -> Run:
    return Run(f"id-{moment}", moment, state, started, 0.01)


def verdicts(dues):
    return [(due.at, due.run.at if due.run else None, due.verdict, due.count) for due in dues]


def test_matching_an_interval_on_time_missed_and_back():
    value = schedule(2, app=UTC_APP)
    runs = [run(t) for t in (2.1, 4.05, 6.1, 30.2, 32.1, 36.5)]
    assert verdicts(match(value, 0.0, runs, 40.0, 1.0)) == [
        (2.0, 2.1, ON_TIME, 1), (4.1, 4.05, ON_TIME, 1), (6.1, 6.1, ON_TIME, 1),  # never earlier
        (8.1, None, MISSED, 11),  # 8.1 ... 28.1: beat was down
        (30.1, 30.2, ON_TIME, 1), (32.2, 32.1, ON_TIME, 1), (34.2, None, MISSED, 1),
        (36.2, 36.5, ON_TIME, 1), (38.5, None, MISSED, 1)]


def test_matching_with_a_tolerance_wider_than_the_interval():
    """Each fire time's window opens half an interval early, whatever the tolerance."""
    value = schedule(2, app=UTC_APP)
    runs = [run(t) for t in (2.0, 3.99, 6.01, 7.98)]
    assert [due.verdict for due in match(value, 0.0, runs, 9.0, 3.0)] == [ON_TIME] * 4


def test_matching_a_crontab_late_and_pending():
    value = crontab(app=UTC_APP)
    runs = [run(t) for t in (60.2, 120.3, 250.0, 300.1)]
    assert verdicts(match(value, 0.0, runs, 361.0, 3.0)) == [
        (60.0, 60.2, ON_TIME, 1), (120.0, 120.3, ON_TIME, 1), (180.0, None, MISSED, 1),
        (240.0, 250.0, LATE, 1), (300.0, 300.1, ON_TIME, 1), (360.0, None, PENDING, 1)]


def test_an_extra_run_takes_no_fire_time():
    """A run now between two fire times is passed over; the fire times keep their runs."""
    value = crontab(app=UTC_APP)
    runs = [run(t) for t in (60.1, 90.0, 120.2)]
    assert [due.verdict for due in match(value, 0.0, runs, 125.0, 3.0)] == [ON_TIME, ON_TIME]


def entry(value, enabled=True, last_run_at=None) -> BeatEntry:
    return BeatEntry("e", "t", value, schedule_text(value), (), {}, {}, enabled, "app",
                     last_run_at, None, "e")


def test_status_on_time_then_missed_when_runs_stop():
    value = schedule(2, app=UTC_APP)
    recent = [run(10.1), run(8.0)]
    on_time = entry_status(entry(value), recent, now=11.0, tolerance=1.0)
    assert (on_time.status, on_time.next_due) == ("on time", 12.1)
    stopped = entry_status(entry(value), recent, now=13.2, tolerance=1.0)
    assert (stopped.status, stopped.next_due) == (MISSED_STATUS, 12.1)


def test_status_late_overran_disabled_and_not_run_yet():
    minutely = crontab(app=UTC_APP)
    late = entry_status(entry(minutely), [run(130.0), run(60.1)], now=140.0, tolerance=3.0)
    assert (late.status, late.next_due) == ("late", 180.0)
    overran = entry_status(entry(minutely), [run(120.1, "STARTED", 120.2),
                                             run(60.1, "STARTED", 60.2)], 130.0, 3.0)
    assert overran.status == OVERRAN
    assert entry_status(entry(minutely, enabled=False), [], 130.0, 3.0).status == DISABLED
    fresh = entry_status(entry(minutely), [], 130.0, 3.0)
    assert (fresh.status, fresh.next_due) == (NOT_RUN_YET, 180.0)
    never = entry_status(entry(schedule(2, app=UTC_APP)), [], 130.0, 3.0)
    assert never.status == NOT_RUN_YET


def test_status_from_the_schedulers_own_last_run():
    """A database scheduler's last run time anchors an entry with no run in the store."""
    value = schedule(60, app=UTC_APP)
    assert entry_status(entry(value, last_run_at=0.0), [], 100.0, 3.0).status == MISSED_STATUS


def test_beat_looks_down_only_when_every_enabled_entry_missed():
    assert beat_looks_down(["missed", "missed", "disabled"])
    assert not beat_looks_down(["missed", "on time"])
    assert not beat_looks_down(["disabled"])


def test_redbeat_json_read_back_as_celerys_schedules():
    encoded = json.dumps({"interval": schedule(timedelta(seconds=90)),
                          "cron": crontab(minute="*/5", hour="8-18"),
                          "when": datetime(2025, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Paris"))},
                         cls=RedBeatJSONEncoder)
    decoded = json.loads(encoded, object_hook=decoder(UTC_APP))
    assert decoded["interval"].run_every == timedelta(seconds=90)
    assert decoded["cron"] == crontab(minute="*/5", hour="8-18")
    assert decoded["when"] == datetime(2025, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Paris"))
