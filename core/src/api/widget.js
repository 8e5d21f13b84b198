/* Ventanilla web chat widget. Embed with:
 *   <script src="https://ventanilla.example.edu/widget.js" data-unit="admisiones"
 *           data-locale="es" data-color="#0b5cab" data-kb="faq" async></script>
 * Talks only to the server it was loaded from; texts come from the server's
 * locale files; messages are shown as text, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ventanillaChat) return;
  window.__ventanillaChat = true;
  var base = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var unit = data.unit || "";
  var locale = /^(es|en|pt)$/.test(data.locale || "") ? data.locale : "es";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#0b5cab";
  var kb = /^[a-z0-9-]{1,64}$/.test(data.kb || "") ? data.kb : "";
  var key = "ventanilla-chat:" + base + ":" + unit;
  // The server fills in the texts of every locale from its locale files.
  var ALL = __STRINGS__;
  var s = { token: null, strings: ALL[locale] || ALL.es, seen: {}, last: null, events: null, answering: null, busy: false, ask: null, answer: null };

  function saved() {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function save() {
    try { localStorage.setItem(key, JSON.stringify({ token: s.token })); } catch (e) { /* private mode */ }
  }
  function t(name, args) {
    var text = s.strings[name] || name;
    for (var k in args || {}) text = text.split("{" + k + "}").join(args[k]);
    return text;
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }

  var host = el("div", { "data-ventanilla-chat": "" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var style = el("style");
  style.textContent =
    ":host{all:initial}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:" + color + ";color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".bubble svg{width:28px;height:28px;fill:#fff}.bubble:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);background:#fff;color:#1a1a1a;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}" +
    ".panel[hidden]{display:none}header{background:" + color + ";color:#fff;padding:12px 14px;display:flex;align-items:flex-start;gap:8px}" +
    "header h2{font-size:16px;margin:0}header p{font-size:13px;margin:2px 0 0}header .x{margin-left:auto;background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;line-height:1}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f5f6f8}" +
    ".m{max-width:85%;padding:8px 11px;border-radius:12px;font-size:14px;line-height:1.4;white-space:pre-wrap;word-wrap:break-word}" +
    ".m.me{align-self:flex-end;background:" + color + ";color:#fff}.m.bot,.m.agent,.m.system{align-self:flex-start;background:#fff;border:1px solid #d9dce1}" +
    ".m .who{display:block;font-size:12px;font-weight:600;margin-bottom:2px;color:#444}.m a{color:inherit}.m .file{display:block;margin-top:4px;font-weight:600}" +
    ".opts{display:flex;flex-wrap:wrap;gap:6px;padding:0 12px 8px;background:#f5f6f8}.opts button{border:1px solid " + color + ";background:#fff;color:" + color + ";border-radius:16px;padding:6px 12px;font-size:13px;cursor:pointer}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e5e8}textarea,input{flex:1;resize:none;border:1px solid #8a8f98;border-radius:8px;padding:8px;font-size:14px;color:#1a1a1a}" +
    "form button{background:" + color + ";color:#fff;border:0;border-radius:8px;padding:0 14px;font-size:14px;cursor:pointer}.note{font-size:13px;padding:8px 12px;margin:0;background:#fff8e1;color:#5c4400}" +
    ".consent{padding:10px 12px;font-size:13px;background:#fff;border-top:1px solid #e3e5e8}.consent p{margin:0 0 6px;white-space:pre-wrap}.consent a{color:#1a1a1a;display:block;margin-bottom:6px}" +
    ".consent button{border:1px solid " + color + ";background:#fff;color:" + color + ";border-radius:16px;padding:6px 12px;font-size:13px;cursor:pointer;margin-right:6px}.consent button.yes{background:" + color + ";color:#fff}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}.help{font-size:12px;padding:0 12px 8px;background:#f5f6f8}.help a{color:#1a1a1a}";
  root.appendChild(style);

  var bubble = el("button", { class: "bubble", type: "button", "aria-expanded": "false" });
  bubble.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z"/></svg>';
  var panel = el("section", { class: "panel", role: "dialog", hidden: "" });
  var header = el("header");
  var titles = el("div");
  var title = el("h2", { id: "vch-title" });
  var status = el("p", { class: "status", "aria-live": "polite" });
  titles.appendChild(title);
  titles.appendChild(status);
  var close = el("button", { class: "x", type: "button" }, "×");
  header.appendChild(titles);
  header.appendChild(close);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", tabindex: "0" });
  var note = el("p", { class: "note", hidden: "" });
  var opts = el("div", { class: "opts" });
  var help = el("p", { class: "help", hidden: "" });
  // The authorisation to process personal data, asked before the first
  // message when the unit requires it; the answer goes with that message.
  var consent = el("div", { class: "consent", role: "group", hidden: "" });
  var form = el("form");
  var label = el("label", { class: "sr", for: "vch-text" });
  var text = el("textarea", { id: "vch-text", rows: "2", maxlength: "4000" });
  var send = el("button", { type: "submit" });
  form.appendChild(label);
  form.appendChild(text);
  form.appendChild(send);
  var mail = el("form", { class: "mail", hidden: "" });
  var mailLabel = el("label", { class: "sr", for: "vch-mail" });
  var mailInput = el("input", { id: "vch-mail", type: "email", autocomplete: "email", required: "" });
  var mailSend = el("button", { type: "submit" });
  mail.appendChild(mailLabel);
  mail.appendChild(mailInput);
  mail.appendChild(mailSend);
  [header, log, note, opts, help, consent, mail, form].forEach(function (n) { panel.appendChild(n); });
  panel.setAttribute("aria-labelledby", "vch-title");
  root.appendChild(panel);
  root.appendChild(bubble);

  function label_texts() {
    bubble.setAttribute("aria-label", t("open"));
    title.textContent = t("title");
    close.setAttribute("aria-label", t("close"));
    label.textContent = t("placeholder");
    text.setAttribute("placeholder", t("placeholder"));
    send.textContent = t("send");
    mailLabel.textContent = t("email_placeholder");
    mailInput.setAttribute("placeholder", t("email_placeholder"));
    mailSend.textContent = t("email_send");
    if (kb) {
      help.textContent = "";
      var a = el("a", { href: base + "/help/" + kb + "/" + locale, target: "_blank", rel: "noopener" }, t("help_center"));
      help.appendChild(a);
      help.hidden = false;
    }
  }

  // Text with web addresses turned into links; everything else stays text.
  function linked(node, body) {
    var parts = body.split(/(https?:\/\/[^\s<>"]+)/g);
    for (var i = 0; i < parts.length; i++) {
      if (i % 2 === 1) node.appendChild(el("a", { href: parts[i], target: "_blank", rel: "noopener" }, parts[i]));
      else if (parts[i]) node.appendChild(document.createTextNode(parts[i]));
    }
  }

  function add(m) {
    if (s.seen[m.id]) return;
    s.seen[m.id] = true;
    s.last = m.id;
    var item = el("div", { class: "m " + m.from, "data-from": m.from });
    if (m.from !== "me") item.appendChild(el("span", { class: "who" }, m.author_name || t(m.from === "bot" ? "bot_name" : "team")));
    linked(item, m.body);
    (m.files || []).forEach(function (f) {
      var a = el("a", { class: "file", href: base + f.url, target: "_blank", rel: "noopener", download: f.name,
        "aria-label": t("file", { name: f.name }) }, "\ud83d\udcce " + f.name);
      item.appendChild(a);
    });
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    opts.textContent = "";
    if (m.from !== "me") {
      (m.options || []).forEach(function (o) {
        var b = el("button", { type: "button" }, o.label);
        b.addEventListener("click", function () { post(o.label, o.id); });
        opts.appendChild(b);
      });
    }
  }

  function show(answering) {
    s.answering = answering;
    var line = answering.kind === "bot" ? t("bot") : answering.kind === "agent" ? t("agent", { name: answering.name || "" }) :
      answering.kind === "queue" ? t("queue") : t("greeting");
    status.textContent = line;
    var away = answering.kind === "queue" && !answering.open;
    note.hidden = !(away || answering.ended);
    note.textContent = answering.ended ? t("ended") : away ? t("closed") : "";
    mail.hidden = !away;
  }

  function ask(question) {
    s.ask = question || null;
    s.answer = null;
    consent.textContent = "";
    consent.hidden = !s.ask;
    if (!s.ask) return;
    var words = el("p", { id: "vch-consent" }, s.ask.text);
    consent.setAttribute("aria-labelledby", "vch-consent");
    consent.appendChild(words);
    if (s.ask.policy_url && /^https?:\/\//.test(s.ask.policy_url)) {
      consent.appendChild(el("a", { href: s.ask.policy_url, target: "_blank", rel: "noopener" }, t("consent_policy")));
    }
    [["grant", "consent_accept", "yes"], ["revoke", "consent_decline", "no"]].forEach(function (choice) {
      var b = el("button", { type: "button", class: choice[2], "data-consent": choice[0] }, t(choice[1]));
      b.addEventListener("click", function () {
        s.answer = { action: choice[0], version: s.ask.version == null ? null : s.ask.version };
        consent.hidden = true;
        note.hidden = true;
        text.focus();
      });
      consent.appendChild(b);
    });
  }

  function api(method, path, body) {
    var headers = { "content-type": "application/json" };
    if (s.token) headers.authorization = "Bearer " + s.token;
    return fetch(base + "/api/v1/webchat" + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().then(function (j) { if (!r.ok) { var e = new Error(j.detail || r.status); e.status = r.status; throw e; } return j; });
      });
  }

  function session() {
    return api("POST", "/sessions", { unit: unit, locale: locale }).then(function (j) {
      s.token = j.token;
      save();
    });
  }

  function listen() {
    if (s.events || !window.EventSource) return;
    var url = base + "/api/v1/webchat/events?token=" + encodeURIComponent(s.token) + "&locale=" + locale + (s.last ? "&after=" + s.last : "");
    s.events = new EventSource(url);
    s.events.addEventListener("message", function (e) { add(JSON.parse(e.data)); });
    s.events.addEventListener("answering", function (e) { show(JSON.parse(e.data)); });
  }

  function load() {
    return api("GET", "/conversation?locale=" + locale).then(function (c) {
      c.messages.forEach(add);
      show(c.answering);
      ask(c.consent);
      listen();
    });
  }

  // One start at a time: a message written while the session is being
  // made waits for it instead of going out without a token.
  var starting = null;
  function start() {
    if (s.token && !starting) return Promise.resolve();
    if (starting) return starting;
    var known = saved();
    var begun;
    if (known && known.token) {
      s.token = known.token;
      begun = load().catch(function (e) {
        if (e.status !== 401) throw e;
        s.token = null;
        return session().then(load);
      });
    } else {
      begun = session().then(load);
    }
    starting = begun.then(function () { starting = null; }, function (e) { starting = null; throw e; });
    return starting;
  }

  function post(body, option) {
    if (!body.trim() || s.busy) return;
    s.busy = true;
    var message = { body: body, page_url: location.href, page_title: document.title };
    if (option) message.selected_option = option;
    start()
      .then(function () {
        if (s.ask && !s.answer) {
          note.hidden = false;
          note.textContent = t("consent_first");
          return;
        }
        if (s.answer) message.consent = s.answer;
        return api("POST", "/messages", message).then(function (m) {
          if (message.consent) ask(null);
          add(m); text.value = ""; listen();
        });
      })
      .catch(function () { note.hidden = false; note.textContent = t("error"); })
      .then(function () { s.busy = false; });
  }

  function toggle(open) {
    panel.hidden = !open;
    bubble.setAttribute("aria-expanded", String(open));
    try { sessionStorage.setItem(key + ":open", open ? "1" : ""); } catch (e) { /* private mode */ }
    if (open) start().then(function () { text.focus(); }).catch(function () { note.hidden = false; note.textContent = t("error"); });
  }

  bubble.addEventListener("click", function () { toggle(panel.hidden); });
  close.addEventListener("click", function () { toggle(false); bubble.focus(); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { toggle(false); bubble.focus(); } });
  form.addEventListener("submit", function (e) { e.preventDefault(); post(text.value); });
  text.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); post(text.value); } });
  mail.addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/email", { email: mailInput.value }).then(function () {
      mail.hidden = true;
      note.hidden = false;
      note.textContent = t("email_thanks");
    }).catch(function () { note.hidden = false; note.textContent = t("error"); });
  });

  label_texts();
  (document.body || document.documentElement).appendChild(host);
  var wasOpen = false;
  try { wasOpen = sessionStorage.getItem(key + ":open") === "1"; } catch (e) { /* private mode */ }
  if (wasOpen) toggle(true);
})();
