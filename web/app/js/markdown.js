// Replies as Markdown: marked renders, DOMPurify sanitises (model output is untrusted),
// highlight.js colours code blocks, and each block gets a copy button.
import { useEffect, useMemo, useRef } from '../vendor/preact-hooks.js';
import { html } from './ui.js';
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

// Sanitised HTML of a Markdown text. Links open in a new tab without the opener.
function toHtml(text) {
  const clean = DOMPurify.sanitize(marked.parse(text || ''), { FORBID_ATTR: ['style'], FORBID_TAGS: ['style'] });
  return clean.replace(/<a /g, '<a target="_blank" rel="noopener noreferrer" ');
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

export function Markdown({ text }) {
  const ref = useRef(null);
  const markup = useMemo(() => toHtml(text), [text]);
  useEffect(() => { if (ref.current) decorate(ref.current); }, [markup]);
  return html`<div class="markdown" ref=${ref} dangerouslySetInnerHTML=${{ __html: markup }} />`;
}
