"use strict";
// English and Chinese texts of the page; keys match data-i18n attributes.
window.I18N = {
  en: {
    "title": "Store gateway", "tab.overview": "Overview", "tab.devices": "Devices",
    "tab.labels": "Labels", "tab.alerts": "Alerts", "logout": "Log out",
    "login.title": "Log in", "login.user": "User", "login.password": "Password",
    "login.submit": "Log in", "login.failed": "Wrong user or password",
    "login.limited": "Too many attempts; wait a few minutes",
    "adapters": "Bluetooth adapters", "components": "Components", "firing": "Firing alerts",
    "filter": "Filter", "col.name": "Name", "col.state": "State", "col.mode": "Mode",
    "col.rate": "Adverts/s", "col.error": "Last error", "col.restarts": "Restarts",
    "col.device": "Device", "col.kind": "Kind", "col.model": "Model", "col.tags": "Tags",
    "col.online": "Online", "col.last_seen": "Last seen", "col.rssi": "RSSI",
    "col.battery": "Battery", "col.readings": "Readings", "col.panel": "Panel",
    "card.devices": "Devices online", "card.broker": "Cloud broker", "card.buffer": "Buffer",
    "card.alerts": "Firing alerts", "yes": "yes", "no": "no", "none": "none",
    "pending": "Pending", "resolved": "Recently resolved", "ack": "Acknowledge",
    "silence": "Silence 1 h", "acked_by": "acknowledged by", "silenced_until": "silenced until",
    "connected": "connected", "disconnected": "disconnected", "not_configured": "not configured",
    "col.desired": "Desired", "col.displayed": "Displayed", "col.actions": "Actions",
    "repush": "Re-push", "flash": "Flash", "preview": "preview"
  },
  zh: {
    "title": "门店网关", "tab.overview": "概览", "tab.devices": "设备",
    "tab.labels": "电子价签", "tab.alerts": "告警", "logout": "退出",
    "login.title": "登录", "login.user": "用户名", "login.password": "密码",
    "login.submit": "登录", "login.failed": "用户名或密码错误",
    "login.limited": "尝试次数过多，请稍后再试",
    "adapters": "蓝牙适配器", "components": "组件", "firing": "正在告警",
    "filter": "筛选", "col.name": "名称", "col.state": "状态", "col.mode": "模式",
    "col.rate": "广播/秒", "col.error": "最近错误", "col.restarts": "重启次数",
    "col.device": "设备", "col.kind": "类型", "col.model": "型号", "col.tags": "标签",
    "col.online": "在线", "col.last_seen": "最后出现", "col.rssi": "信号",
    "col.battery": "电量", "col.readings": "读数", "col.panel": "屏幕",
    "card.devices": "在线设备", "card.broker": "云端连接", "card.buffer": "缓存",
    "card.alerts": "正在告警", "yes": "是", "no": "否", "none": "无",
    "pending": "待定", "resolved": "最近解除", "ack": "确认",
    "silence": "静音 1 小时", "acked_by": "确认人", "silenced_until": "静音至",
    "connected": "已连接", "disconnected": "未连接", "not_configured": "未配置",
    "col.desired": "目标内容", "col.displayed": "当前显示", "col.actions": "操作",
    "repush": "重新推送", "flash": "闪烁", "preview": "预览"
  }
};
