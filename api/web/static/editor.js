// The in-browser editor: the starter's text files in Ace, drafts kept in localStorage, submitted as files.
// Loaded only on task pages; the page works without it (downloads and uploads).
(function () {
  "use strict";
  var dataNode = document.getElementById("starter-files");
  var section = document.getElementById("editor-section");
  if (!dataNode || !section || !window.ace) { return; }
  var starter = JSON.parse(dataNode.textContent);
  var paths = Object.keys(starter.files);
  if (paths.length === 0) { return; }
  var draft = {};
  try { draft = JSON.parse(localStorage.getItem(starter.key) || "{}"); } catch (e) { draft = {}; }
  var files = {};
  paths.forEach(function (p) { files[p] = Object.prototype.hasOwnProperty.call(draft, p) ? draft[p] : starter.files[p]; });

  ace.config.set("useStrictCSP", true);  // Ace's styles come from the linked ace.css, never injected
  var editor = ace.edit("editor", { useWorker: false, fontSize: 14, showPrintMargin: false });
  editor.setTheme({ cssClass: "ace-chrome", isDark: false });  // its CSS is linked: nothing to load at run time
  var modes = { py: "python", js: "javascript", mjs: "javascript", sh: "sh", json: "json", yaml: "yaml", yml: "yaml" };
  var sessions = {};
  var current = null;
  var list = document.getElementById("file-list");
  var label = document.getElementById("editor-file");

  function save() {
    if (current) { files[current] = sessions[current].getValue(); }
    localStorage.setItem(starter.key, JSON.stringify(files));
  }
  function open(path) {
    if (!sessions[path]) {
      var ext = path.split(".").pop();
      sessions[path] = ace.createEditSession(files[path], "ace/mode/" + (modes[ext] || "text"));
      sessions[path].on("change", function () { files[path] = sessions[path].getValue(); save(); });
    }
    current = path;
    localStorage.setItem(starter.key + ":open", path);
    editor.setSession(sessions[path]);
    label.textContent = "Editing " + path;
    Array.prototype.forEach.call(list.querySelectorAll("button"), function (b) {
      b.setAttribute("aria-current", b.dataset.path === path ? "true" : "false");
    });
  }
  paths.forEach(function (p) {
    var li = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary outline";
    button.dataset.path = p;
    button.textContent = p;
    button.addEventListener("click", function () { open(p); });
    li.appendChild(button);
    list.appendChild(li);
  });
  section.hidden = false;
  var last = localStorage.getItem(starter.key + ":open");
  open(paths.indexOf(last) >= 0 ? last : paths[0]);

  document.getElementById("reset-draft").addEventListener("click", function () {
    localStorage.removeItem(starter.key);
    paths.forEach(function (p) { files[p] = starter.files[p]; if (sessions[p]) { sessions[p].setValue(starter.files[p]); } });
    localStorage.removeItem(starter.key);
  });
  var testButton = document.getElementById("test-editor");
  if (testButton) {
    testButton.addEventListener("click", function () {
      save();
      var output = document.getElementById("public-output");
      var body = new FormData();
      body.append("csrf", document.querySelector("#editor-form input[name=csrf]").value);
      paths.forEach(function (p) { body.append("files", new File([files[p]], p, { type: "text/plain" })); });
      testButton.setAttribute("aria-busy", "true");
      testButton.disabled = true;
      output.hidden = false;
      output.textContent = "Running the public tests…";
      fetch(testButton.dataset.action, { method: "POST", body: body, credentials: "same-origin",
                                         headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.text(); })
        .then(function (html) { output.innerHTML = html; })  // server-rendered and escaped
        .catch(function () { output.textContent = "The public tests could not be run: the server did not answer."; })
        .finally(function () { testButton.disabled = false; testButton.removeAttribute("aria-busy"); });
    });
  }
  document.getElementById("submit-editor").addEventListener("click", function () {
    // A real form post (files set through DataTransfer): the browser follows the redirect to the progress page.
    save();
    var form = document.getElementById("editor-form");
    var transfer = new DataTransfer();
    paths.forEach(function (p) { transfer.items.add(new File([files[p]], p, { type: "text/plain" })); });
    form.querySelector("input[type=file]").files = transfer.files;
    form.submit();
  });
}());
