"""Venue-neutral reasons why the simulator rejected, ended or refused something.

One enum serves three places: `OrderRejected.reason` (never accepted), `OrderDone.reason`
(accepted, then ended other than by a full fill) and `CancelRejected.reason`. The protocol
layers map each member to their venue's own code and message; the hints below say which
one, so a mapping table can be written from this file alone.
"""

from __future__ import annotations

import enum


class Reason(enum.Enum):
    """Why an order or cancel did not do what was asked (NONE: it did)."""

    NONE = "none"

    # -- request shape: Binance -1100/-1013 family, OKX 51000, Gate INVALID_PARAM_VALUE
    UNKNOWN_SYMBOL = "unknown_symbol"  # Binance -1121, OKX 51001, Gate INVALID_CURRENCY_PAIR
    UNKNOWN_ACCOUNT = "unknown_account"  # no such account was opened in the ledger
    INVALID_PRICE = "invalid_price"  # limit price missing or <= 0 (PRICE_FILTER)
    INVALID_QUANTITY = "invalid_quantity"  # qty / quote amount missing, <= 0 or both given
    INVALID_ORDER = "invalid_order"  # a combination the order type does not take
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"  # -2010 "Duplicate order sent.", 51016

    # -- exchange filters: Binance -1013 "Filter failure: ...", OKX 51020, Gate AMOUNT_TOO_LITTLE
    FILTER_MIN_QTY = "filter_min_qty"  # LOT_SIZE
    FILTER_MIN_NOTIONAL = "filter_min_notional"  # NOTIONAL / MIN_NOTIONAL

    # -- matching-engine rejects: Binance -2010 with its message
    INSUFFICIENT_BALANCE = "insufficient_balance"  # OKX 51008, Gate BALANCE_NOT_ENOUGH
    # post-only would trade: Binance -2010 "Order would immediately match and take.";
    # OKX state canceled cancelSource 31; Gate finish_as "poc" or POC_FILL_IMMEDIATELY
    POST_ONLY_WOULD_TAKE = "post_only_would_take"

    # -- why an accepted order ended without a full fill
    CANCELED_BY_USER = "canceled_by_user"  # OKX cancelSource 1, Gate "cancelled"
    IOC_REMAINDER = "ioc_remainder"  # Binance EXPIRED, OKX cancelSource 14, Gate "ioc"
    FOK_NOT_FILLED = "fok_not_filled"  # Binance EXPIRED, OKX cancelSource 13, Gate "fok"
    NO_LIQUIDITY = "no_liquidity"  # market order ran out of book; Gate "depth_not_enough"
    # a quote-amount market order that cannot pay for one more lot, before any fill; Gate "small"
    AMOUNT_TOO_SMALL = "amount_too_small"
    # Binance EXPIRED_IN_MATCH / TRADE_PREVENTION, OKX cancelSource 32, Gate "stp"
    SELF_TRADE_PREVENTED = "self_trade_prevented"

    # -- cancel refused: Binance -2011 "Unknown order sent.", OKX 51400/51603, Gate ORDER_NOT_FOUND
    UNKNOWN_ORDER = "unknown_order"
