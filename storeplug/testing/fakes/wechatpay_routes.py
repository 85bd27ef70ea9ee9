"""The fake WeChat Pay's HTTP routes (see ``storeplug.testing.fakes.wechatpay`` for what
they answer)."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter

from storeplug.testing.fakes.wechatpay_state import (
    FakeMerchant,
    FakeRefund,
    FakeTrade,
    china_time,
    json_bytes,
    random_digits,
    wechat_headers,
)

if TYPE_CHECKING:
    from storeplug.testing.fakes.wechatpay import FakeWeChatPay

PREPAY_TTL_S = 2 * 3600
OUT_NO = re.compile(r"[A-Za-z0-9_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")
PAID = ("SUCCESS", "REFUND")

Req = Request[Any, Any, Any]
OutNo = Annotated[str, PathParameter()]


class Refused(Exception):
    """An error answer: HTTP status, WeChat's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def signed(merchant: FakeMerchant | None, status: int, payload: Any = None) -> Response[bytes]:
    """An answer signed with the merchant's platform key (unsigned when nobody is known)."""
    body = b"" if payload is None else json_bytes(payload)
    headers = {"Request-ID": secrets.token_hex(16)}
    if merchant is not None:
        headers |= wechat_headers(merchant.platform_key, merchant.platform_key_id, body)
    return Response(
        content=body, status_code=status, media_type="application/json", headers=headers
    )


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise Refused(400, "PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "PARAM_ERROR", "请求体必须是JSON对象")
    return data


def _text(data: dict[str, Any], name: str, *, limit: int | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(400, "PARAM_ERROR", f"输入源“/body/{name}”映射到字段失败：缺少必填参数")
    if limit is not None and len(value.encode()) > limit:
        raise Refused(400, "PARAM_ERROR", f"{name}长度超过{limit}字节")
    return value


def _amount(data: dict[str, Any], *names: str) -> dict[str, int]:
    amount = data.get("amount")
    if not isinstance(amount, dict):
        raise Refused(400, "PARAM_ERROR", "缺少amount")
    if amount.get("currency", "CNY") != "CNY":
        raise Refused(400, "PARAM_ERROR", "currency只支持CNY")
    found: dict[str, int] = {}
    for name in names:
        value = amount.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise Refused(400, "PARAM_ERROR", f"amount.{name}必须是正整数")
        found[name] = value
    return found


def _notify_url(data: dict[str, Any]) -> str:
    url = _text(data, "notify_url", limit=255)
    if not url.startswith(("https://", "http://")) or "?" in url:
        raise Refused(400, "PARAM_ERROR", "notify_url格式不正确，且不能携带参数")
    return url


def _out_no(value: str, pattern: re.Pattern[str], name: str) -> str:
    if not pattern.fullmatch(value):
        raise Refused(400, "PARAM_ERROR", f"{name}格式不正确")
    return value


def open_trade(merchant: FakeMerchant, data: dict[str, Any]) -> str:
    """JSAPI 下单: the prepay_id of a new trade, or of the same trade asked again."""
    if data.get("mchid") != merchant.mchid:
        raise Refused(400, "PARAM_ERROR", "请求体中的mchid与请求头不一致")
    if _text(data, "appid") != merchant.appid:
        raise Refused(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
    description = _text(data, "description", limit=127)
    out_trade_no = _out_no(_text(data, "out_trade_no"), OUT_NO, "out_trade_no")
    notify_url = _notify_url(data)
    total = _amount(data, "total")["total"]
    payer = data.get("payer")
    openid = payer.get("openid") if isinstance(payer, dict) else None
    if not isinstance(openid, str) or not openid:
        raise Refused(400, "PARAM_ERROR", "缺少payer.openid")
    time_expire = _text(data, "time_expire")
    if not RFC3339.fullmatch(time_expire):
        raise Refused(400, "PARAM_ERROR", "time_expire格式不正确，应为rfc3339格式")
    expires = datetime.fromisoformat(time_expire)
    trade = merchant.trades.get(out_trade_no)
    if trade is not None:
        if trade.state in PAID:
            raise Refused(400, "ORDERPAID", "该订单已支付")
        if trade.state in ("CLOSED", "REVOKED"):
            raise Refused(400, "ORDER_CLOSED", "该订单已关闭")
        if trade.total != total or trade.openid != openid:
            raise Refused(400, "INVALID_REQUEST", "商户订单号重复，且参数与原订单不一致")
        if time.time() - trade.prepay_issued > PREPAY_TTL_S:
            trade.prepay_id, trade.prepay_issued = _prepay_id(), time.time()
        return trade.prepay_id
    merchant.trades[out_trade_no] = FakeTrade(
        mchid=merchant.mchid,
        appid=merchant.appid,
        out_trade_no=out_trade_no,
        description=description,
        total=total,
        openid=openid,
        notify_url=notify_url,
        time_expire=expires,
        prepay_id=_prepay_id(),
        prepay_issued=time.time(),
    )
    return merchant.trades[out_trade_no].prepay_id


def _prepay_id() -> str:
    return "wx" + time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(11)


def open_refund(merchant: FakeMerchant, data: dict[str, Any]) -> FakeRefund:
    """申请退款: a new refund, or the same one for a repeated out_refund_no."""
    out_trade_no = _text(data, "out_trade_no")
    out_refund_no = _out_no(_text(data, "out_refund_no"), OUT_REFUND_NO, "out_refund_no")
    amounts = _amount(data, "refund", "total")
    notify_url = _notify_url(data)
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 80:
        raise Refused(400, "PARAM_ERROR", "reason长度超过80个字符")
    known = merchant.refunds.get(out_refund_no)
    if known is not None:
        if (known.out_trade_no, known.refund, known.total) != (
            out_trade_no,
            amounts["refund"],
            amounts["total"],
        ):
            raise Refused(400, "INVALID_REQUEST", "退款单号重复，且参数与原退款单不一致")
        return known
    trade = merchant.trades.get(out_trade_no)
    if trade is None:
        raise Refused(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if trade.state not in PAID:
        raise Refused(400, "INVALID_REQUEST", "订单未支付，不能退款")
    if amounts["total"] != trade.total:
        raise Refused(400, "INVALID_REQUEST", "订单金额与原订单不一致")
    if amounts["refund"] > trade.total - merchant.refunded(out_trade_no):
        raise Refused(400, "NOT_ENOUGH", "申请退款金额超过订单可退金额")
    refund = FakeRefund(
        mchid=merchant.mchid,
        out_trade_no=out_trade_no,
        transaction_id=trade.transaction_id,
        out_refund_no=out_refund_no,
        refund_id="50" + random_digits(27),
        refund=amounts["refund"],
        total=trade.total,
        reason=reason,
        notify_url=notify_url,
        create_time=china_time(),
    )
    merchant.refunds[out_refund_no] = refund
    return refund


def routes(fake: FakeWeChatPay) -> list[HTTPRouteHandler]:
    async def serve(request: Req, work: Any) -> Response[bytes]:
        body = await request.body()
        merchant, reason = fake.authenticate(request, body)
        if merchant is None or reason:
            return signed(merchant, 401, {"code": "SIGN_ERROR", "message": reason})
        try:
            status, payload = work(merchant, body)
        except Refused as exc:
            return signed(merchant, exc.status, {"code": exc.code, "message": exc.message})
        return signed(merchant, status, payload)

    @post("/v3/pay/transactions/jsapi")
    async def jsapi(request: Req) -> Response[bytes]:
        def work(merchant: FakeMerchant, body: bytes) -> tuple[int, Any]:
            return 200, {"prepay_id": open_trade(merchant, _object(body))}

        return await serve(request, work)

    def _trade(merchant: FakeMerchant, out_trade_no: str) -> FakeTrade:
        trade = merchant.trades.get(out_trade_no)
        if trade is None:
            raise Refused(404, "ORDER_NOT_EXIST", "订单不存在")
        return trade

    @get("/v3/pay/transactions/out-trade-no/{out_trade_no:str}")
    async def query(request: Req, out_trade_no: OutNo) -> Response[bytes]:
        def work(merchant: FakeMerchant, body: bytes) -> tuple[int, Any]:
            if request.query_params.get("mchid") != merchant.mchid:
                raise Refused(400, "PARAM_ERROR", "mchid与请求头不一致")
            return 200, _trade(merchant, out_trade_no).answer()

        return await serve(request, work)

    @post("/v3/pay/transactions/out-trade-no/{out_trade_no:str}/close")
    async def close(request: Req, out_trade_no: OutNo) -> Response[bytes]:
        def work(merchant: FakeMerchant, body: bytes) -> tuple[int, Any]:
            if _object(body).get("mchid") != merchant.mchid:
                raise Refused(400, "PARAM_ERROR", "mchid与请求头不一致")
            trade = _trade(merchant, out_trade_no)
            if trade.state in PAID:
                raise Refused(400, "ORDERPAID", "订单已支付，不能关单")
            trade.state = "CLOSED"
            return 204, None

        return await serve(request, work)

    @post("/v3/refund/domestic/refunds")
    async def refund(request: Req) -> Response[bytes]:
        def work(merchant: FakeMerchant, body: bytes) -> tuple[int, Any]:
            found = open_refund(merchant, _object(body))
            if fake.auto_complete_refunds and found.status == "PROCESSING":
                fake.settle_refund(merchant, found, "SUCCESS")
                fake.notify_later(merchant, found)
            return 200, found.answer()

        return await serve(request, work)

    @get("/v3/refund/domestic/refunds/{out_refund_no:str}")
    async def query_refund(request: Req, out_refund_no: OutNo) -> Response[bytes]:
        def work(merchant: FakeMerchant, body: bytes) -> tuple[int, Any]:
            found = merchant.refunds.get(out_refund_no)
            if found is None:
                raise Refused(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return 200, found.answer()

        return await serve(request, work)

    return [jsapi, query, close, refund, query_refund]
