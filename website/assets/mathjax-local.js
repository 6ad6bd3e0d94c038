// MathJax 2 settings of the site: the fonts jupyter-server-mathjax ships (STIX-Web), no image fonts, no web fonts.
// (Its HTML-CSS output probes web-font support with an about:blank font: Chromium logs that as a console error,
// though nothing leaves the machine; tests/browser/test_site.py lets exactly that message through.)
MathJax.Hub.Config({
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null },
  tex2jax: { inlineMath: [["$", "$"], ["\\(", "\\)"]], processEscapes: true },
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/newretail.js");
