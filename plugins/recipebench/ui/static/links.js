// The results pages' one script: links to Airflow's own pages open at the top level.
// Airflow 3.3's UI embeds these pages in an iframe sandboxed "allow-scripts allow-same-origin allow-forms
// allow-downloads" (its plugin page; the bundle apache-airflow-core 3.3.2 ships in airflow/ui/dist):
// without allow-top-navigation a link, target="_top" included, only navigates the frame, and the Airflow
// UI would load inside itself. Being same-origin, a page may act in the top document: a link marked
// data-top is followed there by an anchor of the top document, which no sandbox restricts.
// Unframed (or framed by another origin) a link stays a plain link; so do modified clicks.
"use strict";
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-top]") : null;
  if (!link || window.top === window || event.button !== 0 || event.metaKey || event.ctrlKey ||
      event.shiftKey || event.altKey) {
    return;
  }
  let top;
  try {
    top = window.top.document;
  } catch {
    return;
  }
  event.preventDefault();
  const anchor = top.createElement("a");
  anchor.href = link.href;
  top.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
});
