from gateway.alerts import AlertEngine, Rule, Selector
from gateway.alerts.model import Alert, AlertPhase
from gateway.registry import DeviceRecord
from tests.helpers.records import record

FRIDGE = Rule(
    name="fridge-too-warm",
    metric="temperature_c",
    op="above",
    threshold=5.0,
    clear=4.5,
    for_s=300,
    severity="critical",
    message="{rule}: {metric} {value} above {threshold} for {for}",
    selector=Selector(tags=frozenset({"fridge"})),
)


def fridge(temp: float, online: bool = True) -> DeviceRecord:
    return record("c4d912ab0f31", readings={"temperature_c": temp}, tags=("fridge",), online=online)


def test_fires_after_for_not_before_and_resolves_with_same_id() -> None:
    engine = AlertEngine([FRIDGE])
    assert engine.evaluate_device(fridge(6.2), 0, 1000) == []
    assert engine.alerts()[0].phase is AlertPhase.PENDING
    assert engine.evaluate_device(fridge(6.3), 299, 1299) == []
    fired = engine.evaluate_device(fridge(6.2), 300, 1300)
    assert [t.kind for t in fired] == ["firing"]
    alert = fired[0].alert
    assert alert.id == "fridge-too-warm/c4d912ab0f31/1000"
    assert alert.started_at == 1000 and alert.value == 6.2
    assert alert.message == "fridge-too-warm: temperature_c 6.2 above 5 for 5m"
    resolved = engine.evaluate_device(fridge(4.4), 400, 1400)
    assert [(t.kind, t.alert.id, t.alert.resolved_at) for t in resolved] == [
        ("resolved", alert.id, 1400)
    ]
    assert engine.alerts() == []


def test_oscillation_inside_band_gives_one_alert() -> None:
    engine = AlertEngine([FRIDGE])
    transitions = []
    t = 0.0
    for value in [6, 6, 6] + [4.8, 5.2] * 20 + [4.6, 5.4] * 20:
        transitions += engine.evaluate_device(fridge(value), t, 1000 + t)
        t += 100
    assert [x.kind for x in transitions] == ["firing"]


def test_dip_below_clear_while_pending_resets_the_timer() -> None:
    engine = AlertEngine([FRIDGE])
    engine.evaluate_device(fridge(6), 0, 0)
    engine.evaluate_device(fridge(4), 200, 200)  # cleared: back to inactive
    engine.evaluate_device(fridge(6), 250, 250)
    assert engine.evaluate_device(fridge(6), 400, 400) == []  # 150 s, not 300
    assert [t.kind for t in engine.evaluate_device(fridge(6), 550, 550)] == ["firing"]


def test_silent_device_does_not_resolve() -> None:
    offline_rule = Rule(name="device-offline", metric="offline", op="above", threshold=0.5)
    engine = AlertEngine([FRIDGE, offline_rule])
    engine.evaluate_device(fridge(6), 0, 0)
    engine.evaluate_device(fridge(6), 300, 300)
    silent = fridge(4.0, online=False)  # a stale low value must not resolve it
    out = engine.evaluate_device(silent, 400, 400)
    assert [(t.kind, t.alert.rule) for t in out] == [("firing", "device-offline")]
    assert {a.rule for a in engine.firing()} == {"fridge-too-warm", "device-offline"}


def test_keep_firing_for() -> None:
    rule = Rule(name="r", metric="temperature_c", op="above", threshold=5, keep_firing_for_s=60)
    engine = AlertEngine([rule])
    assert [t.kind for t in engine.evaluate_device(fridge(6), 0, 0)] == ["firing"]
    assert engine.evaluate_device(fridge(4), 10, 10) == []
    assert engine.evaluate_device(fridge(6), 20, 20) == []  # back up: clearing cancelled
    assert engine.evaluate_device(fridge(4), 30, 30) == []
    assert engine.evaluate_device(fridge(4), 80, 80) == []
    assert [t.kind for t in engine.evaluate_device(fridge(4), 90, 90)] == ["resolved"]


def test_below_rules_and_gateway_metrics() -> None:
    battery = Rule(name="low-battery", metric="battery_pct", op="below", threshold=15, clear=20)
    buffer = Rule(
        name="buffer-filling",
        metric="buffer_share",
        op="above",
        threshold=0.8,
        clear=0.7,
        selector=Selector(gateway=True),
    )
    engine = AlertEngine([battery, buffer])
    device = fridge(3)
    device.battery_pct = 10
    out = engine.evaluate_device(device, 0, 0) + engine.tick([device], {"buffer_share": 0.9}, 0, 0)
    assert sorted((t.alert.rule, t.alert.subject) for t in out) == [
        ("buffer-filling", "gateway"),
        ("low-battery", "c4d912ab0f31"),
    ]
    device.battery_pct = 18  # inside the band; the tick re-evaluates devices with alerts
    assert engine.tick([device], {"buffer_share": 0.75}, 1, 1) == []
    device.battery_pct = 25
    out = engine.tick([device], {"buffer_share": 0.5}, 2, 2)
    assert sorted(t.kind for t in out) == ["resolved", "resolved"]


def test_tick_evaluates_seconds_since_seen_for_quiet_devices() -> None:
    stale = Rule(name="stale", metric="seconds_since_seen", op="above", threshold=600)
    engine = AlertEngine([stale, FRIDGE])
    device = fridge(9)  # would fire FRIDGE if evaluated in full, but nothing changed
    device.last_seen = 1000
    assert engine.tick([device], {}, 0, 1500) == []
    out = engine.tick([device], {}, 1, 1700)
    assert [(t.kind, t.alert.rule) for t in out] == [("firing", "stale")]


def test_restored_alert_is_not_announced_again_and_still_resolves() -> None:
    engine = AlertEngine([FRIDGE])
    engine.restore(
        [
            Alert(
                rule="fridge-too-warm",
                subject="c4d912ab0f31",
                phase=AlertPhase.FIRING,
                since_mono=0,
                started_at=1000,
                severity="critical",
                metric="temperature_c",
                threshold=5,
                value=6,
                id="fridge-too-warm/c4d912ab0f31/1000",
            )
        ]
    )
    assert engine.evaluate_device(fridge(6.5), 10, 2000) == []
    out = engine.evaluate_device(fridge(4.0), 20, 2010)
    assert [(t.kind, t.alert.id) for t in out] == [
        ("resolved", "fridge-too-warm/c4d912ab0f31/1000")
    ]


def test_selector_and_acknowledge() -> None:
    engine = AlertEngine([FRIDGE])
    not_fridge = fridge(9)
    not_fridge.tags = ()
    assert engine.evaluate_device(not_fridge, 0, 0) == []
    rule = Rule(name="r", metric="temperature_c", op="above", threshold=5)
    engine.set_rules([rule])
    alert = engine.evaluate_device(fridge(6), 0, 0)[0].alert
    assert alert.id is not None
    engine.acknowledge(alert.id, "tech-li")
    engine.silence(alert.id, "tech-li", until_wall=500)
    assert engine.firing()[0].acknowledged_by == "tech-li"
    assert engine.firing()[0].silenced_until == 500


async def test_alerts_persist_and_restore(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway.alerts.persistence import load_alerts, save_alerts
    from gateway.store import Database

    db = Database(tmp_path / "gw.db")
    await db.open()
    engine = AlertEngine([FRIDGE])
    engine.evaluate_device(fridge(6), 0, 1000)
    fired = engine.evaluate_device(fridge(6), 300, 1300)
    await db.run(lambda d: save_alerts(d, [t.alert for t in fired]))
    restored = await load_alerts(db, AlertPhase.FIRING)
    assert [a.id for a in restored] == ["fridge-too-warm/c4d912ab0f31/1000"]
    fresh = AlertEngine([FRIDGE])
    fresh.restore(restored)
    assert fresh.evaluate_device(fridge(6), 0, 2000) == []
    out = fresh.evaluate_device(fridge(4), 1, 2001)
    await db.run(lambda d: save_alerts(d, [t.alert for t in out]))
    assert await load_alerts(db, AlertPhase.FIRING) == []
    resolved = await load_alerts(db, AlertPhase.RESOLVED)
    assert resolved[0].resolved_at == 2001
    await db.close()
