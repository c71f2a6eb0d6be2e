// Prescreening keys: 1/I include, 2/B borderline, 3/E exclude. A key clicks the matching button of
// the current card, whose htmx form sends the rating and swaps in the next card.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]")) return;
  const card = document.getElementById("prescreen-card");
  if (!card) return;
  const form = card.querySelector("form.rating-form");
  if (!form || form.classList.contains("htmx-request")) return;
  const key = event.key.toLowerCase();
  const button = Array.from(form.querySelectorAll("button[data-key]")).find((b) =>
    b.dataset.key.split(" ").includes(key),
  );
  if (!button) return;
  event.preventDefault();
  button.click();
});
