/*
 * portal.js — the only script of the resident portal: it talks to the local card reader
 * (jichitai card-reader, like the JPKI client software) for the two steps that need the card.
 *
 *  - #card-login: get a one-time challenge from the portal, have the card sign it with the
 *    利用者証明用 PIN, post signature + certificate back; the portal sets the session cookie.
 *  - #card-sign: have the card sign the canonical bytes of the reviewed form (署名用 password, or
 *    the 利用者証明用 PIN for procedures that need no signature), then submit the form.
 *
 * The PIN goes to the card reader on this computer only, never to the portal. Errors (wrong PIN
 * with the tries left, locked card, reader not running, certificate refused) are shown next to the
 * PIN field and announced (role=alert); focus returns to the PIN field.
 */
(function () {
  "use strict";

  var READER_DOWN = "カードリーダーソフトに接続できません。カードリーダーソフトが起動しているか確認してください。";
  var PORTAL_DOWN = "電子申請サービスに接続できませんでした。時間をおいてもう一度お試しください。";

  function byId(id) { return document.getElementById(id); }

  function showError(message) {
    var box = byId("f-pin-error");
    var input = byId("f-pin");
    box.textContent = "";
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = "エラー:";
    box.appendChild(hidden);
    box.appendChild(document.createTextNode(message));
    box.hidden = false;
    box.setAttribute("role", "alert");
    input.setAttribute("aria-invalid", "true");
    input.closest(".form-field").classList.add("form-field--error");
    input.focus();
  }

  function clearError() {
    var box = byId("f-pin-error");
    box.hidden = true;
    box.textContent = "";
    byId("f-pin").removeAttribute("aria-invalid");
    byId("f-pin").closest(".form-field").classList.remove("form-field--error");
  }

  function busy(button, statusId, text) {
    button.disabled = !!text;
    button.setAttribute("aria-busy", text ? "true" : "false");
    byId(statusId).textContent = text || "";
  }

  function postJson(url, body, crossOrigin) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      mode: crossOrigin ? "cors" : "same-origin",
      credentials: crossOrigin ? "omit" : "same-origin",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { ok: response.ok, status: response.status, body: json };
      });
    });
  }

  function readerMessage(result) {
    var body = result.body || {};
    var message = body.message || "カードを読み取れませんでした。";
    if (body.error === "wrong_pin" && typeof body.remaining_tries === "number" && message.indexOf("残り") < 0) {
      message += "（残り" + body.remaining_tries + "回）";
    }
    return message;
  }

  function setupLogin(form) {
    var button = byId("login-button");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearError();
      var pin = byId("f-pin").value;
      if (!/^[0-9]{4}$/.test(pin)) {
        showError("利用者証明用暗証番号は数字4桁で入力してください。");
        return;
      }
      var reader = form.dataset.cardReader;
      var challenge;
      busy(button, "login-status", "カードを読み取っています。カードをカードリーダーから離さないでください。");
      postJson(form.dataset.challengeUrl, {}, false)
        .catch(function () { throw new Error(PORTAL_DOWN); })
        .then(function (result) {
          if (!result.ok) { throw new Error(result.body.message_ja || PORTAL_DOWN); }
          challenge = result.body;
          return postJson(reader + "/authenticate", { pin: pin, challenge: challenge.challenge }, true)
            .catch(function () { throw new Error(READER_DOWN); });
        })
        .then(function (result) {
          if (!result.ok) { throw new Error(readerMessage(result)); }
          byId("f-pin").value = "";
          return postJson(form.dataset.loginUrl, {
            challenge_id: challenge.challenge_id,
            signature: result.body.signature,
            certificate: result.body.certificate,
            next: form.dataset.next
          }, false).catch(function () { throw new Error(PORTAL_DOWN); });
        })
        .then(function (result) {
          if (!result.ok) { throw new Error(result.body.message_ja || "ログインできませんでした。"); }
          byId("login-status").textContent = "ログインしました。";
          window.location.assign(result.body.redirect);
        })
        .catch(function (error) {
          busy(button, "login-status", "");
          showError(error.message);
        });
    });
  }

  function setupSign(form) {
    var button = byId("sign-button");
    var signing = form.dataset.use === "signing";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearError();
      var pin = byId("f-pin").value.trim();
      if (signing && !/^[A-Z0-9]{6,16}$/.test(pin)) {
        showError("署名用電子証明書のパスワードは英大文字と数字の6〜16文字で入力してください。");
        return;
      }
      if (!signing && !/^[0-9]{4}$/.test(pin)) {
        showError("利用者証明用暗証番号は数字4桁で入力してください。");
        return;
      }
      var reader = form.dataset.cardReader;
      var data = form.dataset.signData; // base64 of the canonical form bytes
      var request = signing
        ? postJson(reader + "/sign", { pin: pin, data: data }, true)
        : postJson(reader + "/authenticate", { pin: pin, challenge: data }, true);
      busy(button, "sign-status", "カードで電子署名しています。カードをカードリーダーから離さないでください。");
      request
        .catch(function () { throw new Error(READER_DOWN); })
        .then(function (result) {
          if (!result.ok) { throw new Error(readerMessage(result)); }
          byId("f-pin").value = "";
          form.elements.namedItem("signature").value = result.body.signature;
          form.elements.namedItem("certificate").value = result.body.certificate;
          byId("sign-status").textContent = "署名しました。申請を送信しています。";
          form.submit();
        })
        .catch(function (error) {
          busy(button, "sign-status", "");
          showError(error.message);
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var login = byId("card-login");
    if (login) { setupLogin(login); }
    var sign = byId("card-sign");
    if (sign) { setupSign(sign); }
  });
})();
