"""Request templates (engine/gateway/request_template.pyx) against their pure-Python reference
(engine/gateway/request_template_ref.py) and against the text builders they replace on the
order path: byte-identical frames for random grids, values and ids; the refusals (values not
positive, ids too long or outside their alphabet, a buffer too small) with a clear error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from engine._core.fixedpoint import Grid
from engine.gateway import request_template as tpl
from engine.gateway import request_template_ref as ref
from engine.gateway.adapter import OrderRequest
from engine.gateway.binance import orders_wire as binance_wire
from engine.gateway.errors import InvalidOrder
from engine.gateway.gate import orders_wire as gate_wire
from engine.gateway.okx import orders_wire as okx_wire
from engine.model.enums import OrderSide, OrderType, TimeInForce
from engine.model.instrument import Instrument
from engine.wire.credentials import Credentials
from engine.wire.mac import hmac_hex

INT64_MAX = 2**63 - 1
BN_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BN_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
CREDS = Credentials(BN_KEY, BN_SECRET)
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BN_IDS = ALNUM + "-_"
GATE_TEXT = ALNUM + "_.-"


def _sign(payload: str) -> str:
    return hmac_hex(CREDS, "sha256", payload.encode())


def _grid(rng: random.Random) -> Grid:
    exp = rng.randint(0, 12)
    mantissa = rng.choice([1, 1, 1, 2, 5, 25, 3])
    decimals = exp + rng.choice([0, 0, 1, 3])
    return Grid(Decimal(mantissa).scaleb(-exp), decimals)


def _instrument(rng: random.Random, venue: str, symbol: str) -> Instrument:
    price, qty = _grid(rng), _grid(rng)
    return Instrument(
        symbol=symbol,
        venue=venue,
        base="BTC",
        quote="USDT",
        tick_size=price.step,
        lot_size=qty.step,
        min_qty=Decimal(0),
        min_notional=Decimal(0),
        price_decimals=price.decimals,
        qty_decimals=qty.decimals,
    )


def _units(rng: random.Random, grid: Grid) -> int:
    """Small, typical and near-overflow grid values (all positive, all formattable)."""
    top = INT64_MAX // grid.step_mantissa
    return rng.choice([1, rng.randint(1, 10**6), rng.randint(1, top), top])


def _id(rng: random.Random, alphabet: str, max_len: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, max_len)))


# -- the filler against its reference ------------------------------------------------------------

Program = list[str | int]
FRAME: Program = ['{"id":', tpl.RID, ',"t":', tpl.TIME, ',"p":"', tpl.PRICE, '","q":"', tpl.QTY]
FRAME += ['","a":"', tpl.ID, '","b":"', tpl.ID2, '","s":"', tpl.SIG, '"}']
PAYLOAD: Program = ["b=", tpl.ID2, "&a=", tpl.ID, "&p=", tpl.PRICE, "&q=", tpl.QTY, "&t=", tpl.TIME]
IDS = [("client order id", BN_IDS, 36), ("cancel id", GATE_TEXT, 30)]


def test_slot_codes_are_the_reference_s() -> None:
    assert (tpl.RID, tpl.TIME, tpl.PRICE, tpl.QTY, tpl.ID, tpl.ID2, tpl.SIG) == (
        ref.RID,
        ref.TIME,
        ref.PRICE,
        ref.QTY,
        ref.ID,
        ref.ID2,
        ref.SIG,
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_values_give_the_reference_bytes(seed: int) -> None:
    rng = random.Random(seed)
    price, qty = _grid(rng), _grid(rng)
    key = "".join(rng.choice(ALNUM) for _ in range(rng.choice([1, 32, 64, 65, 100])))
    ours = tpl.RequestTemplate(
        FRAME, PAYLOAD, price_grid=price, qty_grid=qty, ids=IDS, signer=tpl.HmacSha256(key)
    )
    theirs = ref.RequestTemplateRef(
        FRAME, PAYLOAD, price_grid=price, qty_grid=qty, ids=IDS, signer=ref.HmacSha256Ref(key)
    )
    assert (ours.capacity, ours.max_size) == (theirs.capacity, theirs.max_size)
    for _ in range(50):
        rid = rng.choice([0, rng.randint(0, 10**6), INT64_MAX])
        time = rng.choice([1, 1_765_000_000_123, INT64_MAX])
        p, q = _units(rng, price), _units(rng, qty)
        a, b = _id(rng, BN_IDS, 36), _id(rng, GATE_TEXT, 30)
        frame = ours.fill(rid, time, p, q, a, b)
        assert frame == theirs.fill(rid, time, p, q, a, b)
        payload = ours.payload(rid, time, p, q, a, b)
        assert payload == theirs.payload(rid, time, p, q, a, b)
        # and against the tools the venues' builders use: Grid.to_str and the stdlib HMAC
        text = f"b={b}&a={a}&p={price.to_str(p)}&q={qty.to_str(q)}&t={time}"
        assert payload == text.encode()
        signature = hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()
        assert json.loads(frame) == {
            "id": rid,
            "t": time,
            "p": price.to_str(p),
            "q": qty.to_str(q),
            "a": a,
            "b": b,
            "s": signature,
        }
        assert len(frame) <= ours.max_size


def test_hmac_matches_the_stdlib_and_binance_s_published_vector() -> None:
    rng = random.Random(7)
    for key_len in (1, 63, 64, 65, 200):
        key = bytes(rng.randrange(256) for _ in range(key_len))
        mac = tpl.HmacSha256(key)
        for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 300, 1000):
            data = bytes(rng.randrange(256) for _ in range(n))
            assert mac.hexdigest(data) == hmac.new(key, data, hashlib.sha256).hexdigest()
    for cls in (tpl.HmacSha256, ref.HmacSha256Ref):
        with pytest.raises(TypeError):
            cls(5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="non-empty"):
            cls(b"")
    # docs/VENUES.md §1.5: the WS API example, built by a template from grid values
    price, qty = Grid("0.01"), Grid("0.00000001")
    fields: list[tuple[str, str | int]] = [
        ("price", tpl.PRICE),
        ("quantity", tpl.QTY),
        ("side", "SELL"),
        ("symbol", "BTCUSDT"),
        ("timeInForce", "GTC"),
        ("type", "LIMIT"),
    ]
    frame, payload = binance_wire.request_programs(
        "order.place", fields, api_key=BN_KEY, recv_window="100", signed=True
    )
    template = tpl.RequestTemplate(
        frame, payload, price_grid=price, qty_grid=qty, signer=tpl.HmacSha256(BN_SECRET)
    )
    args = (1, 1645423376532, price.to_units("52000.00"), qty.to_units("0.01"), "", "")
    assert (
        template.payload(*args)
        == (
            f"apiKey={BN_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
            "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        ).encode()
    )
    params = json.loads(template.fill(*args))["params"]
    assert params["signature"] == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"


def test_fallback_signer_is_called_with_the_payload() -> None:
    seen: list[str] = []

    def sign(payload: str) -> str:
        seen.append(payload)
        return base64.b64encode(hashlib.sha512(payload.encode()).digest()).decode()

    program: tuple[Program, Program] = (
        ['{"q":"', tpl.QTY, '","s":"', tpl.SIG, '"}'],
        ["q=", tpl.QTY],
    )
    grid = Grid("0.001")
    ours = tpl.RequestTemplate(*program, qty_grid=grid, sign=sign)
    theirs = ref.RequestTemplateRef(*program, qty_grid=grid, sign=sign)
    assert ours.fill(0, 0, 0, 1500, "", "") == theirs.fill(0, 0, 0, 1500, "", "")
    assert seen == ["q=1.500", "q=1.500"]
    expected = base64.b64encode(hashlib.sha512(b"q=1.500").digest()).decode()
    assert ours.fill(0, 0, 0, 1500, "", "") == f'{{"q":"1.500","s":"{expected}"}}'.encode()
    bad: Any
    for bad, why in (
        (lambda p: b"abc", "not str"),
        (lambda p: 'a"b', "neither hex nor base64"),
        (lambda p: "a" * 129, "does not fit"),
        (lambda p: "", "does not fit"),
    ):
        for cls in (tpl.RequestTemplate, ref.RequestTemplateRef):
            template = cls(*program, qty_grid=grid, sign=bad)
            with pytest.raises(ValueError, match=why):
                template.fill(0, 0, 0, 1500, "", "")


def test_returned_bytes_outlive_the_reused_buffer() -> None:
    template = tpl.RequestTemplate(['{"id":', tpl.RID, ',"a":"', tpl.ID, '"}'], ids=IDS[:1])
    first = template.fill(1, 0, 0, 0, "first", "")
    second = template.fill(22, 0, 0, 0, "second-one", "")
    assert first == b'{"id":1,"a":"first"}'
    assert second == b'{"id":22,"a":"second-one"}'


# -- refusals ----------------------------------------------------------------------------------

BOTH = [tpl.RequestTemplate, ref.RequestTemplateRef]


def _both(**kw: Any) -> list[Any]:
    kw.setdefault("price_grid", Grid("0.01"))
    kw.setdefault("qty_grid", Grid("0.00001"))
    kw.setdefault("ids", IDS)
    frame = kw.pop("frame", FRAME)
    payload = kw.pop("payload", PAYLOAD)
    out = []
    for cls in BOTH:
        signer = tpl.HmacSha256("k") if cls is tpl.RequestTemplate else ref.HmacSha256Ref("k")
        out.append(cls(frame, payload, signer=signer, **kw))
    return out


GOOD = (1, 1_765_000_000_000, 6_500_010, 1_500, "abc-1", "t-abc.1")


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, -1, "request id must be >= 0, got -1"),
        (1, 0, "timestamp must be positive, got 0"),
        (1, -5, "timestamp must be positive, got -5"),
        (2, 0, "price must be positive, got 0"),
        (2, -3, "price must be positive, got -3"),
        (3, 0, "quantity must be positive, got 0"),
        (3, -(2**63), "quantity must be positive"),
        (4, "", "client order id '' must be 1-36 characters"),
        (4, "x" * 37, "must be 1-36 characters"),
        (4, "a.b", "'.' is outside the venue's alphabet"),
        (4, 'a"b', "'\"' is outside the venue's alphabet"),
        (4, "a\\b", "is outside the venue's alphabet"),
        (4, "é1", "'é' is outside the venue's alphabet"),
        (4, "a\x00", "is outside the venue's alphabet"),
        (4, "a\ud800", "is outside the venue's alphabet"),  # a lone surrogate
        (4, 17, "client order id must be a str, got 17"),
        (4, None, "client order id must be a str, got None"),
        (5, "t-" + "x" * 29, "cancel id 't-xxx"),
        (5, "t/1", "'/' is outside the venue's alphabet"),
    ],
)
def test_values_the_slot_cannot_take_are_refused(index: int, value: Any, message: str) -> None:
    args = list(GOOD)
    args[index] = value
    for template in _both():
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("\\b", r"\\b")):
            template.fill(*args)
        assert template.fill(*GOOD)  # and the template still works


def test_grid_overflow_is_refused() -> None:
    for template in _both(price_grid=Grid("5")):  # ticks * 5 past int64
        with pytest.raises(ValueError, match="price 2000000000000000000 overflows int64"):
            template.fill(1, 1, 2 * 10**18, 1, "a", "b")
    for template in _both():
        with pytest.raises(OverflowError):
            template.fill(1, 1, 2**63, 1, "a", "b")
        for args in (
            (1, 1, 1.5, 1, "a", "b"),  # 1.5 ticks is a bug, not a price
            (True, 1, 1, 1, "a", "b"),
            (1, 1, 1, Decimal(1), "a", "b"),
            (1, "1", 1, 1, "a", "b"),
        ):
            with pytest.raises(TypeError, match="must be an int"):
                template.fill(*args)


def test_unused_slots_ignore_their_arguments() -> None:
    frame: Program = ['{"sz":"', tpl.QTY, '"}']
    for cls in BOTH:
        template = cls(frame, qty_grid=Grid("0.1"))
        assert template.fill(-1, -1, -1, 25, None, 7) == b'{"sz":"2.5"}'
        assert not template.signed


def test_a_buffer_too_small_is_refused_not_overrun() -> None:
    for capacity in (1, 40, 120):
        for template in _both(capacity=capacity):
            assert template.capacity == capacity
            with pytest.raises(ValueError, match=f"more than the buffer's {capacity} bytes"):
                template.fill(*GOOD)
    # the frame fits but the payload does not, and the reverse
    fits = len(_both()[0].fill(*GOOD))
    for template in _both(capacity=fits):
        assert template.fill(*GOOD)
    for template in _both(capacity=fits - 1):
        with pytest.raises(ValueError, match="the request needs more than"):
            template.fill(*GOOD)
    long_payload = [*PAYLOAD, "&" + "x" * 200]
    for template in _both(payload=long_payload, capacity=fits + 50):
        with pytest.raises(ValueError, match="the signed payload needs more than"):
            template.fill(*GOOD)
    # the default capacity is the worst case: the widest values always fit
    for template in _both():
        top = INT64_MAX // 1
        widest = (INT64_MAX, INT64_MAX, top, top, "x" * 36, "y" * 30)
        assert len(template.fill(*widest)) <= template.max_size == template.capacity


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"payload": None}, "needs a payload program"),
        ({"frame": ['{"a":"', tpl.ID, '"}']}, "without a SIG slot"),
        ({"payload": [*PAYLOAD, tpl.SIG]}, "cannot hold its own signature"),
        ({"price_grid": None}, "PRICE slot needs price_grid"),
        ({"qty_grid": None}, "QTY slot needs qty_grid"),
        ({"ids": IDS[:1]}, "second id slot without its rule"),
        ({"ids": [("x", 'a"', 5), IDS[1]]}, "would need escaping"),
        ({"ids": [("x", "ab", 0), IDS[1]]}, "max length 0"),
        ({"ids": [*IDS, IDS[0]]}, "at most two id slots"),
        ({"capacity": 0}, "capacity must be a positive int"),
        ({"frame": ["a", tpl.RID] * 30}, "more than 48 ops"),
        ({"frame": ["a", 9]}, "neither a literal nor a slot"),
    ],
)
def test_bad_programs_are_refused_at_compile(kw: dict[str, Any], error: str) -> None:
    for cls in BOTH:
        with pytest.raises((ValueError, TypeError), match=error):
            signer = tpl.HmacSha256("k") if cls is tpl.RequestTemplate else ref.HmacSha256Ref("k")
            cls(
                kw.get("frame", FRAME),
                kw.get("payload", PAYLOAD),
                price_grid=kw.get("price_grid", Grid("0.01")),
                qty_grid=kw.get("qty_grid", Grid("1")),
                ids=kw.get("ids", IDS),
                signer=signer,
                capacity=kw.get("capacity"),
            )


# -- the venues' templates against the text builders they replace ------------------------------

SHAPES = list(itertools.product(OrderSide, OrderType, TimeInForce))


@pytest.mark.parametrize("seed", range(6))
def test_binance_templates_are_the_text_builders_bytes(seed: int) -> None:
    rng = random.Random(seed)
    inst = _instrument(rng, "binance", "BTCUSDT")
    templates = binance_wire.OrderTemplates(
        inst, api_key=BN_KEY, recv_window=rng.choice(["5000", "60000", "100.5"]), secret=BN_SECRET
    )
    recv = templates._recv_window
    for (side, order_type, tif), signed in itertools.product(SHAPES, (False, True)):
        for _ in range(4):
            rid, ts = rng.randint(0, 10**9), rng.randint(1, 10**13)
            price, qty = _units(rng, inst.price_grid), _units(rng, inst.qty_grid)
            cid, old = _id(rng, BN_IDS, 36), _id(rng, BN_IDS, 36)
            sign = _sign if signed else None
            place = binance_wire.place_frame(
                rid,
                inst,
                side,
                order_type,
                tif,
                quantity_lots=qty,
                price_ticks=price,
                client_order_id=cid,
                api_key=BN_KEY,
                recv_window=recv,
                timestamp=str(ts),
                sign=sign,
            )
            assert place.encode() == templates.place(
                rid,
                side,
                order_type,
                tif,
                quantity_lots=qty,
                price_ticks=price,
                client_order_id=cid,
                timestamp_ms=ts,
                signed=signed,
            )
            replace = binance_wire.replace_frame(
                rid,
                inst,
                side,
                order_type,
                tif,
                quantity_lots=qty,
                price_ticks=price,
                client_order_id=cid,
                cancel_client_order_id=old,
                api_key=BN_KEY,
                recv_window=recv,
                timestamp=str(ts),
                sign=sign,
            )
            assert replace.encode() == templates.replace(
                rid,
                side,
                order_type,
                tif,
                quantity_lots=qty,
                price_ticks=price,
                client_order_id=cid,
                cancel_client_order_id=old,
                timestamp_ms=ts,
                signed=signed,
            )
            cancel = binance_wire.signed_request(
                rid,
                "order.cancel",
                [("origClientOrderId", cid), ("symbol", inst.symbol)],
                api_key=BN_KEY,
                recv_window=recv,
                timestamp=str(ts),
                sign=sign,
            )
            assert cancel.encode() == templates.cancel(rid, cid, timestamp_ms=ts, signed=signed)


def test_binance_fallback_signer_and_refusals() -> None:
    rng = random.Random(3)
    inst = _instrument(rng, "binance", "ETHUSDT")
    calls: list[str] = []

    def sign(payload: str) -> str:
        calls.append(payload)
        return _sign(payload)

    hmac_templates = binance_wire.OrderTemplates(
        inst, api_key=BN_KEY, recv_window="5000", secret=BN_SECRET
    )
    python_templates = binance_wire.OrderTemplates(
        inst, api_key=BN_KEY, recv_window="5000", sign=sign
    )
    shape = (OrderSide.SELL, OrderType.LIMIT, TimeInForce.IOC)
    kw: dict[str, Any] = {
        "quantity_lots": 3,
        "price_ticks": 7,
        "client_order_id": "q-1",
        "timestamp_ms": 1_700_000_000_000,
        "signed": True,
    }
    assert python_templates.place(5, *shape, **kw) == hmac_templates.place(5, *shape, **kw)
    assert len(calls) == 1 and calls[0].startswith(f"apiKey={BN_KEY}&newClientOrderId=q-1&")
    for change, message in (
        ({"client_order_id": "has.dot"}, "order.place: client order id 'has.dot'"),
        ({"client_order_id": "x" * 37}, "must be 1-36 characters"),
        ({"price_ticks": 0}, "price must be positive"),
        ({"quantity_lots": -1}, "quantity must be positive"),
    ):
        with pytest.raises(InvalidOrder, match=message) as err:
            hmac_templates.place(5, *shape, **(kw | change))
        assert err.value.code == ""
    market = (OrderSide.BUY, OrderType.MARKET, TimeInForce.GTC)
    assert b'"price"' not in hmac_templates.place(5, *market, **(kw | {"price_ticks": 0}))
    with pytest.raises(ValueError, match="not plain text"):
        binance_wire.OrderTemplates(inst, api_key='k"ey', recv_window="5000", secret="s")


@pytest.mark.parametrize("seed", range(6))
def test_okx_templates_are_the_body_builder_s_bytes(seed: int) -> None:
    rng = random.Random(seed)
    inst = _instrument(rng, "okx", "BTC-USDT")
    templates, bodies = okx_wire.OrderTemplates(inst), okx_wire.BodyBuilder(inst)
    for side, order_type, tif in SHAPES:
        for _ in range(4):
            rid = rng.randint(0, 10**9)
            price, qty = _units(rng, inst.price_grid), _units(rng, inst.qty_grid)
            cid = _id(rng, ALNUM, 32)
            request = OrderRequest(cid, inst, side, order_type, qty, price, tif)
            text = okx_wire.ws_request(str(rid), "order", [bodies.place(request)])
            assert text.encode() == templates.place(rid, request)
            text = okx_wire.ws_request(str(rid), "cancel-order", [bodies.by_client_id(cid)])
            assert text.encode() == templates.cancel(rid, cid)
            for p, q in ((price, 0), (0, qty), (price, qty)):
                text = okx_wire.ws_request(str(rid), "amend-order", [bodies.amend(cid, p, q)])
                assert text.encode() == templates.amend(rid, cid, p, q)


@pytest.mark.parametrize("cid", ["", "a-b", "a_b", 'q"x', "x" * 33, "é1"])
def test_okx_template_refuses_what_the_body_builder_refuses(cid: str) -> None:
    inst = _instrument(random.Random(1), "okx", "BTC-USDT")
    request = OrderRequest(cid, inst, OrderSide.BUY, OrderType.LIMIT, 1, 1)
    templates = okx_wire.OrderTemplates(inst)
    build: Any
    for build in (
        lambda: templates.place(1, request),
        lambda: templates.cancel(1, cid),
        lambda: templates.amend(1, cid, 1, 0),
    ):
        with pytest.raises(InvalidOrder):
            build()
    good = request._replace(client_order_id="ok1")
    for bad in (good._replace(price_ticks=0), good._replace(quantity_lots=-2)):
        with pytest.raises(InvalidOrder, match="must be positive"):
            templates.place(1, bad)
    with pytest.raises(InvalidOrder, match="amend needs"):
        templates.amend(1, "ok1", 0, 0)


@pytest.mark.parametrize("seed", range(6))
def test_gate_templates_are_the_text_builders_bytes(seed: int) -> None:
    rng = random.Random(seed)
    inst = _instrument(rng, "gate", "BTC_USDT")
    account = rng.choice(["spot", "unified", "cross_margin"])
    templates = gate_wire.OrderTemplates(inst, account=account)
    for side, order_type, tif in SHAPES:
        for _ in range(4):
            rid, now = rng.randint(0, 10**9), rng.randint(1, 10**10)
            price, qty = _units(rng, inst.price_grid), _units(rng, inst.qty_grid)
            cid = _id(rng, GATE_TEXT, 28)
            kw: dict[str, Any] = {
                "side": side,
                "order_type": order_type,
                "quantity_lots": qty,
                "price_ticks": price,
                "tif": tif,
            }
            if order_type is OrderType.MARKET and side is OrderSide.BUY:
                with pytest.raises(InvalidOrder, match="market buys"):
                    templates.place(rid, now, cid, **kw)
                continue
            body = gate_wire.order_body(gate_wire.to_text(cid), inst, account=account, **kw)
            frame = gate_wire.api_frame(str(now), "spot.order_place", str(rid), body)
            assert frame.encode() == templates.place(rid, now, cid, **kw)
            ref_ = rng.choice([str(rng.randint(1, 10**12)), gate_wire.to_text(cid)])
            body = gate_wire.cancel_body(ref_, inst.symbol)
            frame = gate_wire.api_frame(str(now), "spot.order_cancel", str(rid), body)
            assert frame.encode() == templates.cancel(rid, now, ref_)
            for p, q in ((price, 0), (0, qty), (price, qty)):
                body = gate_wire.amend_body(ref_, inst, price_ticks=p, quantity_lots=q)
                frame = gate_wire.api_frame(str(now), "spot.order_amend", str(rid), body)
                assert frame.encode() == templates.amend(
                    rid, now, ref_, price_ticks=p, quantity_lots=q
                )


@pytest.mark.parametrize("cid", ["", "bad id!", "x" * 29, "é", 'a"'])
def test_gate_template_refuses_what_to_text_refuses(cid: str) -> None:
    inst = _instrument(random.Random(2), "gate", "BTC_USDT")
    with pytest.raises(InvalidOrder):
        gate_wire.to_text(cid)
    with pytest.raises(InvalidOrder, match=r"spot\.order_place: client order id"):
        gate_wire.OrderTemplates(inst).place(
            1,
            1,
            cid,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity_lots=1,
            price_ticks=1,
            tif=TimeInForce.GTC,
        )
