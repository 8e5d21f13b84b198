// Suggestions while typing in the help center's search box. The page works
// without this file: the form submits to the results page.
(function () {
  var input = document.getElementById("q");
  var list = document.getElementById("suggestions");
  if (!input || !list) return;
  var url = input.getAttribute("data-suggest");
  var timer = null, active = -1, last = "";
  function close() { list.hidden = true; list.innerHTML = ""; input.setAttribute("aria-expanded", "false"); active = -1; input.removeAttribute("aria-activedescendant"); }
  function select(i) {
    var items = list.querySelectorAll("li");
    items.forEach(function (li, n) { li.setAttribute("aria-selected", n === i ? "true" : "false"); });
    active = i;
    if (i >= 0 && items[i]) input.setAttribute("aria-activedescendant", items[i].id); else input.removeAttribute("aria-activedescendant");
  }
  function show(hits) {
    list.innerHTML = "";
    hits.forEach(function (hit, i) {
      var li = document.createElement("li");
      li.id = "suggestion-" + i; li.setAttribute("role", "option"); li.setAttribute("aria-selected", "false");
      var a = document.createElement("a"); a.href = hit.url; a.textContent = hit.title; a.tabIndex = -1;
      li.appendChild(a); list.appendChild(li);
    });
    list.hidden = hits.length === 0;
    input.setAttribute("aria-expanded", hits.length ? "true" : "false");
    active = -1;
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value;
    if (q.trim().length < 2) { close(); return; }
    timer = setTimeout(function () {
      last = q;
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { hits: [] }; })
        .then(function (body) { if (input.value === last) show(body.hits || []); })
        .catch(close);
    }, 150);
  });
  input.addEventListener("keydown", function (e) {
    var items = list.querySelectorAll("li");
    if (list.hidden || !items.length) return;
    if (e.key === "ArrowDown") { e.preventDefault(); select((active + 1) % items.length); }
    else if (e.key === "ArrowUp") { e.preventDefault(); select((active - 1 + items.length) % items.length); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); window.location = items[active].querySelector("a").href; }
    else if (e.key === "Escape") { close(); }
  });
  document.addEventListener("click", function (e) { if (e.target !== input && !list.contains(e.target)) close(); });
})();
