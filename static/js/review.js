// A review gate's page: clicking a line's number in the diff quotes that line in the
// decision's comment (`path:line`, then the line), for the reviewer to say what to change
// there; a rejected review's comment is the agent's next prompt. The comment being written
// is kept in the tab's session storage until it is sent, so switching the diff between
// unified and side by side (a new page) does not lose it. Without this script the comment
// box works the same, typed by hand.
(function () {
  "use strict";

  function commentBox(review) {
    const id = review.dataset.commentFor;
    return id ? document.getElementById(id) : null;
  }

  function lineOf(number) {
    // Unified: the number is a gutter of the line's <span>; side by side: a cell before the code's.
    if (number.classList.contains("ln")) {
      const line = number.parentElement;
      const gutters = Array.from(line.querySelectorAll(":scope > .ln")).map((g) => g.textContent).join("");
      return line.textContent.slice(gutters.length + 1); // past the gutters and the +, - or space
    }
    const code = number.nextElementSibling;
    return code ? code.textContent : "";
  }

  function quote(review, number) {
    const box = commentBox(review);
    const file = number.closest("details.diff-file");
    if (!box || !file) return;
    const isOld = number.dataset.old !== undefined && number.dataset.old !== "";
    const isNew = number.dataset.new !== undefined && number.dataset.new !== "";
    if (!isOld && !isNew) return;
    const where = isNew
      ? `${file.dataset.path}:${number.dataset.new}`
      : `${file.dataset.path}:${number.dataset.old} (${review.dataset.sayBefore})`;
    const said = box.value && !box.value.endsWith("\n") ? box.value + "\n" : box.value;
    box.value = `${said}${where}\n> ${lineOf(number).replace(/\s+$/, "")}\n`;
    sessionStorage.setItem(review.dataset.draftKey, box.value);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function keepDraft(box) {
    const key = `smartspec:comment:${box.id}`;
    if (!box.value && sessionStorage.getItem(key)) box.value = sessionStorage.getItem(key);
    box.addEventListener("input", () => sessionStorage.setItem(key, box.value));
    if (box.form) box.form.addEventListener("submit", () => sessionStorage.removeItem(key));
    return key;
  }

  document.querySelectorAll("[data-testid=review][data-comment-for]").forEach((review) => {
    const box = commentBox(review);
    if (!box) return; // this reader cannot decide the gate
    review.dataset.draftKey = keepDraft(box);
    review.classList.add("commentable");
    review.querySelectorAll(".diff-file .ln, .diff-file td.diff-num").forEach((number) => {
      if (number.dataset.old || number.dataset.new) number.title = review.dataset.sayComment;
    });
    review.addEventListener("click", (event) => {
      const number = event.target.closest(".ln, td.diff-num");
      if (number && review.contains(number)) quote(review, number);
    });
  });
})();
