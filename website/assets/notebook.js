// Collapse the code of cells tagged hide-input: a "Show code" toggle instead of the input.
document.addEventListener("DOMContentLoaded", () => {
  for (const cell of document.querySelectorAll(".jp-Cell.celltag_hide-input")) {
    const input = cell.querySelector(".jp-Cell-inputWrapper");
    if (!input || input.closest("details")) continue;
    const details = document.createElement("details");
    details.className = "hide-input";
    const summary = document.createElement("summary");
    summary.textContent = "Show code";
    input.parentNode.insertBefore(details, input);
    details.append(summary, input);
  }
});
