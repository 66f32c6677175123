"""Every word gridbot says to a user, and the words it listens for, in one place."""

from __future__ import annotations

import re

from core.lifecycle import CaseStatus

# --- menu -----------------------------------------------------------------------------------------------------

MENU = (("report", "报事"), ("policy", "政策"), ("progress", "进度"), ("human", "人工"))
QR_BOUND = "已为您关联到{grid}，您反映的问题会优先交给本网格处理。\n"
GREETING = "您好，我是社区网格服务助手。可以帮您：报事报修、政策咨询、查询办理进度、联系工作人员。请选择或直接说："
UNKNOWN = "抱歉，没太明白您的意思。您可以直接描述遇到的问题，或选择："
SORRY = "抱歉，系统刚才出了点问题，这一步没有完成，请稍后再试。您也可以选择："
CANCELLED = "好的，已取消。还需要什么帮助吗？"
UNSUPPORTED = "暂时只能处理文字、图片和位置消息。请选择："
STAFF_ONLY = "这是工作人员的功能，您的账号还没有绑定工作人员身份。如需帮助请选择："
POLICY_ASK = "请问您想咨询哪方面的政策？直接说您的问题就行，比如“小微企业房租能减免吗”。"

# --- listening ------------------------------------------------------------------------------------------------

CANCEL_WORDS = frozenset({"取消", "算了", "不报了", "不用了", "退出", "取消吧"})
CONFIRM_WORDS = frozenset({"确认", "确定", "对", "没问题", "提交", "好的", "是的", "对的"})
YES_WORDS = frozenset({"是", "是的", "对", "好", "好的", "可以", "用这个", "就用这个"})
EDIT_WORDS = frozenset({"修改", "改", "改一下", "要改", "不对"})
SKIP_WORDS = frozenset({"跳过", "没有", "不用", "没有照片", "不拍了", "无"})
NO_PHONE_WORDS = frozenset({"不留", "不留电话", "不用留", "不方便"})
GENERIC_REPORT_WORDS = frozenset({"我要报修", "我要报事", "报事", "报修", "我要反映问题", "反映问题", "我要投诉",
                                  "投诉", "我要上报", "上报", "报事报修"})
APPLY_WORDS = ("帮我申请", "帮我办", "帮忙申请", "帮我报名", "我要申请", "申请")
HELPER_WORDS = ("帮办员", "找帮办")

# --- report flow ----------------------------------------------------------------------------------------------

ASK_DESCRIPTION = "请简单说说遇到了什么问题？"
ASK_CATEGORY = "请选择问题类型："
ASK_CATEGORY_AGAIN = "没能对上问题类型，请从下面选一个："
CONFIRM_CATEGORY = "这是「{name}」方面的问题吗？不是的话请选择正确的类型："
YES_GUESS = "是"
ASK_LOCATION = "问题在哪里？请告诉我详细地址（如 幸福小区3栋2单元门口），或发送位置。"
ASK_LOCATION_AGAIN = "还需要问题的具体位置：请输入地址（小区、楼栋、路名），或发送位置。"
ASK_PHOTO = "方便的话请拍张照片发来，便于工作人员了解情况（可跳过）。"
ASK_PHOTO_AGAIN = "请发送照片，或选择“跳过”。"
SKIP = "跳过"
OFFER_PHONE = "联系电话用 {phone} 吗？也可以直接输入新的号码。"
ASK_PHONE = "请留一个联系电话，方便工作人员联系您（可不留）。"
USE_THIS_PHONE = "用这个号码"
NO_PHONE = "不留电话"
SHARE_LOCATION_BUTTON = "📍 发送当前位置"   # Telegram's one-tap share buttons
SHARE_PHONE_BUTTON = "📱 使用本机号码"
NOT_A_PHONE = "没有识别到手机号。"
NOTED_PHONE = "已记下电话 {phone}"
NOTED_ADDRESS = "已记下地点：{address}"
NOTED_LOCATION = "已收到位置"
NOTED_PHOTO = "已收到照片"
NOTED_CATEGORY = "类型已改为「{name}」"
NOTED_DESCRIPTION = "问题描述已更新"
SHARED_LOCATION = "（已发送位置）"
NONE = "无"
SUMMARY = "请核对以下信息：\n类型：{category}\n问题：{description}\n地点：{where}\n照片：{photos} 张\n电话：{phone}\n无误请回复“确认”。"
CONFIRM = "确认"
EDIT = "修改"
CANCEL = "取消"
CONFIRM_OR_EDIT = "请选择“确认”提交，“修改”更正，或“取消”。"
ASK_WHAT_TO_EDIT = "要修改哪一项？"
EDITABLE_FIELDS = (("category", "类型"), ("address", "地点"), ("photo", "照片"), ("phone", "电话"),
                   ("description", "描述"))
FIELD_WORDS = {"category": ("类型", "类别", "分类"), "address": ("地址", "地点", "位置"),
               "photo": ("照片", "图片"), "phone": ("电话", "手机", "号码"), "description": ("描述", "问题", "内容")}
_CORRECTION = re.compile(r"^(?:把)?(.{1,4}?)(?:改成|改为|应该是|换成)(.+)$")


def field_named(text: str) -> str | None:
    """The report field a user names (修改地址 → address)."""
    for name, words in FIELD_WORDS.items():
        if any(word in text for word in words):
            return name
    return None


def parse_correction(text: str) -> tuple[str, str] | None:
    """``地址改成幸福小区5栋`` → ("address", "幸福小区5栋"); None when the text is not a correction."""
    match = _CORRECTION.match(text.strip())
    if match is None:
        return None
    name = field_named(match.group(1))
    return (name, match.group(2).strip(" ：:，,。")) if name else None


def handled_by(grid: str | None, handler: str | None, phone: str | None) -> str:
    """Who will take care of a case, as a clause."""
    who = f"{handler}（{phone}）" if handler and phone else handler or "值班工作人员"
    return f"由{grid or '所在网格'}的{who}处理"


def filed(number: str, handled: str) -> str:
    """The answer after a case is filed."""
    return f"已受理！工单号：{number}，{handled}。发送“查一下进度”可随时查看。"


# --- progress -------------------------------------------------------------------------------------------------

STATUS_NAMES = {
    CaseStatus.SUBMITTED: "已受理", CaseStatus.ASSIGNED: "已派单", CaseStatus.ACCEPTED: "处理中",
    CaseStatus.RESOLVED: "已办结（待评价）", CaseStatus.REOPENED: "重新处理中", CaseStatus.CLOSED: "已关闭",
    CaseStatus.CANCELLED: "已撤销",
}
NO_CASES = "您还没有提交过事项。遇到问题可以直接告诉我。"
CASE_NOT_FOUND = "没有找到工单 {number}，请核对工单号。"
CASES_HEADER = "您的事项："
CASE_LINE = "{number} {category}｜{status}｜{handler}｜更新于 {updated}"
CASE_DETAIL = "工单 {number}\n类型：{category}\n问题：{description}\n状态：{status}\n处理人：{handler}\n最近更新：{updated}"
NO_HANDLER = "待派单"

# --- rating ---------------------------------------------------------------------------------------------------

# Longest words first: 不满意 must win over 满意. Scores of 2 or less reopen the case.
RATING_WORDS = (("非常不满意", 1), ("非常满意", 5), ("基本满意", 3), ("不满意", 2), ("满意", 4), ("一般", 3))
# Button n gives n points, so a WeChat user typing "1" means one point either way.
RATING_BUTTONS = ("1 非常不满意", "2 不满意", "3 基本满意", "4 满意", "5 非常满意")
NOTHING_TO_RATE = "您目前没有待评价的工单（工单办结后才能评价）。"
NOT_RESOLVED = "工单 {number} 还没有办结，办结后再来评价吧。"
ASK_RATING = "请为工单 {number} 的办理打分："
ASK_RATING_AGAIN = "请回复 1 到 5 分，或“满意”“基本满意”“不满意”。"
ASK_RATING_COMMENT = "还有什么想说的吗？（可跳过）"
RATED = "感谢您的评价！工单 {number} 已办结。"
REOPENED = "很抱歉没让您满意，工单 {number} 已重新交给工作人员处理。"

# --- policy and enterprise service ----------------------------------------------------------------------------

POLICY_ANSWER = "{summary}\n——《{title}》"
POLICY_SOURCE = "来源：{url}"
POLICY_FOLLOW_UP = "需要帮您申请吗？"
POLICY_NOT_FOUND = "抱歉，政策库里没有找到能准确回答的内容。可以请帮办员联系您，帮您查询和办理。"
APPLY = "帮我申请"
HELPER = "找帮办员"
NO_POLICY_YET = "请先说说想申请哪项政策或办什么事。"
ASK_ENTERPRISE_NAME = "第一次办理需要登记企业信息（只需一次）。请问企业名称是？"
ASK_CREDIT_CODE = "请输入企业的统一社会信用代码（18位）："
BAD_CREDIT_CODE = "信用代码“{code}”校验不通过，请核对后重新输入18位统一社会信用代码。"
ASK_INDUSTRY = "企业所属行业是？（如 餐饮、零售、制造）"
ASK_SIZE = "企业规模是？"
SIZES = (("微型", "micro"), ("小型", "small"), ("中型", "medium"), ("大型", "large"))
ASK_ENTERPRISE_ADDRESS = "企业经营地址是？（用于确定所属网格的帮办员）"
SERVICE_FILED = "已为{enterprise}提交帮办申请，工单号：{number}，{handled}，会尽快联系您。"
SERVICE_DESCRIPTION = "企业帮办：{topic}"

# --- human handoff --------------------------------------------------------------------------------------------

ASK_CALLBACK_PHONE = "好的，请留一个电话，值班工作人员会尽快给您回电："
CALLBACK_NOTE = "用户请求人工回电：{phone}"
CALLBACK_DESCRIPTION = "用户请求人工服务，请回电。"
CALLBACK_ON_CASE = "已通知工单 {number} 的处理人员，会尽快给您回电。"
CALLBACK_FILED = "已转人工，工单号：{number}，{handled}，会尽快给您回电。"

# --- errors ---------------------------------------------------------------------------------------------------

DOMAIN_ERROR = "抱歉，这个操作现在无法完成，请换个方式或联系工作人员。"
ILLEGAL_TRANSITION = "工单 {number} 当前状态下不能这样操作。"
PERMISSION_DENIED = "抱歉，您没有权限进行这个操作。"

# --- staff binding --------------------------------------------------------------------------------------------

BIND_WORDS = ("绑定",)
BIND_ASK_CODE = "请发送“绑定 邀请码”，邀请码由管理员通过系统生成，24小时内有效。"
BOUND = "绑定成功！您好，{name}（{role}，{region}）。发送“我的任务”查看待办工单。"
BIND_INVALID = "邀请码无效、已使用或已过期，请向管理员重新获取。"
BIND_LOCKED = "尝试次数过多，请一小时后再试，或联系管理员。"
ROLE_NAMES = {"grid_worker": "网格员", "helper": "帮办员", "community_admin": "社区管理员",
              "street_admin": "街道管理员", "city_admin": "市指挥中心", "department": "职能部门"}

# --- staff commands -------------------------------------------------------------------------------------------

STAFF_HELP = ("工作人员可用指令：\n我的任务\n接单 工单号\n办结 工单号 处理结果\n转派 工单号 原因（转社区，或写明“转第2网格”）\n"
              "详情 工单号\n今日统计（管理员）\n督办 工单号 意见（管理员）")
ACCEPT, RESOLVE, TRANSFER, DETAIL = "接单", "办结", "转派", "详情"
NO_TASKS = "您目前没有待办工单。"
TASKS_HEADER = "您的待办工单（超时优先）："
TASK_LINE = "{overdue}{number} {category}｜{status}｜{where}｜{due}"
OVERDUE_MARK = "【超时】"
DUE_ACCEPT = "{time}前接单"
DUE_RESOLVE = "{time}前办结"
WHICH_CASE = "请告诉我工单号，例如“{verb} 20261204-0007”。"
CASE_UNKNOWN = "没有找到工单 {number}。"
ACCEPTED = "已接单 {number}，请在 {due} 前办结。办结时发送“办结 {number} 处理结果”。"
ASK_RESOLVE_NOTE = "请简要说明工单 {number} 的处理结果："
ASK_RESOLVE_PHOTO = "可发送一张处理后的现场照片（可跳过）。"
RESOLVED = "工单 {number} 已办结，已通知群众评价。"
ASK_TRANSFER_REASON = "请说明转派工单 {number} 的原因："
TRANSFERRED = "工单 {number} 已转派给{target}。"
NO_TRANSFER_TARGET = "没有找到可以接收的值班人员，请联系社区或稍后再试。"
SUPERVISE_NEEDS_NOTE = "请写明督办意见，例如“督办 {number} 请今天内处理完毕”。"
SUPERVISED = "已督办工单 {number}，已通知处理人及其上级。"
ADMINS_ONLY = "这是管理员的功能。"
STATS_HEADER = "今日统计（{area}，截至 {time}）：\n网格｜新增｜接单｜办结｜超时"
STATS_LINE = "{name}｜{new}｜{accepted}｜{resolved}｜{overdue}"
TIMELINE_HEADER = "办理记录："
TIMELINE_LINE = "{time} {what}{note}"
EVENT_NAMES = {"created": "受理", "assigned": "派单", "accepted": "接单", "transferred": "转派",
               "escalated": "升级", "reminded": "催办", "supervised": "督办", "resolved": "办结",
               "reopened": "重新处理", "rated": "评价", "closed": "关闭", "cancelled": "撤销", "commented": "备注"}
STAFF_DETAIL = ("工单 {number}\n类型：{category}\n问题：{description}\n地点：{where}\n联系电话：{phone}\n状态：{status}\n"
                "处理人：{handler}\n接单时限：{accept_due}\n办结时限：{resolve_due}")

# --- notices (pushed through the outbox) ----------------------------------------------------------------------

NOTICE_NEW_CASE = "【新工单】{number} {category}\n{description}\n地点：{where}\n请在 {accept_due} 前接单。"
NOTICE_REOPENED_CASE = "【重新办理】{number} {category}：群众不满意，已退回给您。\n{description}\n请在 {accept_due} 前接单。"
NOTICE_ACCEPT_DUE_SOON = "【催办】工单 {number} 将于 {due} 超过接单时限，请尽快接单。"
NOTICE_RESOLVE_DUE_SOON = "【催办】工单 {number} 将于 {due} 超过办结时限，请抓紧办理。"
NOTICE_ESCALATED_TO_YOU = "【升级工单】{number} {category} 超时未接单，已升级到{level}，请处理。\n{description}\n地点：{where}"
NOTICE_ESCALATION_FYI = "【升级告知】工单 {number} 超时未接单，已升级到{level}。"
NOTICE_RESOLVE_OVERDUE = "【超时告知】工单 {number} 已超过办结时限仍未办结（处理人：{handler}）。"
NOTICE_OVERDUE_AT_TOP = "【超时】工单 {number} 在市级仍未接单，请立即处理。"
NOTICE_TRANSFERRED_TO_YOU = "【转派工单】{number} {category} 已转派给您。\n{description}\n地点：{where}\n请在 {accept_due} 前接单。"
NOTICE_SUPERVISED = "【督办】工单 {number}：{note}"
NOTICE_CASE_ACCEPTED = "您的工单 {number} 已由{handler}接单处理。"
NOTICE_CASE_TRANSFERRED = "您的工单 {number} 已转交{handler}处理。"
NOTICE_CASE_RESOLVED = "您的工单 {number} 已办结：{note}\n请为本次办理打分："
NOTICE_DAILY_DIGEST = "【每日简报】{area} 昨日新增 {new}，接单 {accepted}，办结 {resolved}；当前超时 {overdue}。{overdue_list}"
NOTICE_OVERDUE_LIST = "\n超时未办：{numbers}"
NOTICE_WEEKLY_SUMMARY = "【周报】{area}：响应率 {response}，解决率 {resolution}，满意率 {satisfaction}"
NOTICE_GENERIC = "工单 {number} 有新动态，请发送“详情 {number}”查看。"
NO_PLACE = "未填写"
HINT_COMMAND = "回复“{command}”{label}"
HINT_SCORE = "回复 1-5 分评价（5 分最满意），也可回复“满意”“基本满意”“不满意”。"
RATE_PERCENT = "{value:.0%}"
NO_RATE = "—"
