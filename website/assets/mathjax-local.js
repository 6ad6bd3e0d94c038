// MathJax 2 settings of the site: the fonts jupyter-server-mathjax ships (STIX-Web), no image fonts, no web fonts.
MathJax.Hub.Config({
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null },
  tex2jax: { inlineMath: [["$", "$"], ["\\(", "\\)"]], processEscapes: true },
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/newretail.js");
