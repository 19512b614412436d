// Replies as Markdown: marked renders, DOMPurify sanitises (model output is untrusted),
// highlight.js colours code blocks, and each block gets a copy button.
import { useEffect, useMemo, useRef } from '../vendor/preact-hooks.js';
import { html } from './ui.js';
import { cite } from './research.js';
import { Marked } from '../vendor/marked.js';
import DOMPurify from '../vendor/purify.js';
import hljs from '../vendor/hljs/core.js';
import bash from '../vendor/hljs/bash.js';
import c from '../vendor/hljs/c.js';
import cpp from '../vendor/hljs/cpp.js';
import css from '../vendor/hljs/css.js';
import go from '../vendor/hljs/go.js';
import java from '../vendor/hljs/java.js';
import javascript from '../vendor/hljs/javascript.js';
import json from '../vendor/hljs/json.js';
import python from '../vendor/hljs/python.js';
import rust from '../vendor/hljs/rust.js';
import sql from '../vendor/hljs/sql.js';
import typescript from '../vendor/hljs/typescript.js';
import xml from '../vendor/hljs/xml.js';
import yaml from '../vendor/hljs/yaml.js';

const languages = { bash, c, cpp, css, go, java, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['js', 'jsx', 'mjs'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['rs'], { languageName: 'rust' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });

const marked = new Marked({ gfm: true, breaks: false });

// Links open in a new tab without the opener. Set on the sanitised tree, never by
// editing its HTML afterwards (a string edit could add what the sanitiser never saw).
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

// Model output and shared pages are text to read: no styles, and no forms to phish with.
const PURIFY = {
  FORBID_ATTR: ['style'],
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'],
};

// Sanitised HTML of a Markdown text.
function toHtml(text) {
  return DOMPurify.sanitize(marked.parse(text || ''), PURIFY);
}

// Highlights the code blocks under `root` and gives each a copy button.
function decorate(root) {
  for (const code of root.querySelectorAll('pre > code')) {
    const pre = code.parentElement;
    if (pre.dataset.decorated) continue;
    pre.dataset.decorated = '1';
    const lang = [...code.classList].find((c) => c.startsWith('language-'))?.slice(9);
    if (lang && hljs.getLanguage(lang)) hljs.highlightElement(code);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small copy-code';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', 'Copy code');
    button.addEventListener('click', async () => {
      await navigator.clipboard.writeText(code.textContent);
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy'; }, 1500);
    });
    pre.prepend(button);
  }
}

// `sources` (a research report's) turn its [n] into links.
export function Markdown({ text, sources }) {
  const ref = useRef(null);
  const markup = useMemo(() => toHtml(text), [text]);
  useEffect(() => {
    if (!ref.current) return;
    decorate(ref.current);
    cite(ref.current, sources);
  }, [markup, sources?.length]);
  return html`<div class="markdown" ref=${ref} dangerouslySetInnerHTML=${{ __html: markup }} />`;
}
