// dingbook's in-app login (issue 10 §2): inside the DingTalk client, ask
// DingTalk for a login code and hand it to /auth/dingtalk/inapp. The
// corpId and clientId come from the page's data- attributes (the CSP
// forbids inline scripts). Outside DingTalk the page's browser login link
// stays.
(function () {
  "use strict";
  var box = document.getElementById("inapp");
  if (!box || !window.dd) {
    return;
  }
  var status = document.getElementById("inapp-status");
  function failed() {
    if (status) {
      status.textContent = box.getAttribute("data-failed");
    }
  }
  if (window.dd.env && window.dd.env.platform === "notInDingTalk") {
    if (status) {
      status.textContent = box.getAttribute("data-outside");
    }
    return;
  }
  var corpId = box.getAttribute("data-corp-id");
  var clientId = box.getAttribute("data-client-id");
  function success(res) {
    var code = res && (res.code || res.authCode);
    if (!code) {
      failed();
      return;
    }
    window.location.assign("/auth/dingtalk/inapp?code=" + encodeURIComponent(code));
  }
  window.dd.ready(function () {
    var opts = { corpId: corpId, clientId: clientId, success: success, fail: failed, onSuccess: success, onFail: failed };
    if (typeof window.dd.requestAuthCode === "function") {
      window.dd.requestAuthCode(opts);
    } else {
      window.dd.runtime.permission.requestAuthCode(opts);
    }
  });
  window.dd.error(failed);
})();
