// Agent console: choosing a canned reply fills the reply box with its text in the
// ticket's language, so the agent can edit it before sending. Without JavaScript the
// server sends the chosen canned text when the box is left empty.
document.addEventListener("change", function (e) {
  var sel = e.target;
  if (!sel.classList || !sel.classList.contains("console-canned")) return;
  var opt = sel.options[sel.selectedIndex];
  var box = sel.form && sel.form.querySelector("textarea[name=body]");
  if (box && opt && opt.dataset.text) box.value = opt.dataset.text;
});
