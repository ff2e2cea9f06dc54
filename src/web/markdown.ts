/**
 * READMEs rendered safely: markdown-it with raw HTML disabled (tags in a README show as text), its link
 * validation (no `javascript:`/`vbscript:`/`data:` URLs) and every link marked `rel="nofollow noopener"`.
 *
 * markdown-it is loaded on the first package page that shows a README, not at start: a registry that is only
 * installed from never pays its memory.
 */
import type { MarkdownIt } from 'markdown-it';
import { trusted, type SafeHtml } from './html.js';

export type RenderMarkdown = (source: string) => SafeHtml;

/** READMEs beyond this size are cut: a registry page is not the place for a book. */
const MAX_README = 512 * 1024;

let loading: Promise<RenderMarkdown> | undefined;

export function loadMarkdown(): Promise<RenderMarkdown> {
  loading ??= import('markdown-it').then(({ default: Markdown }) => {
    const md = configure(new Markdown({ html: false, linkify: true, typographer: false }));
    return (source: string) => trusted(md.render(source.length > MAX_README ? `${source.slice(0, MAX_README)}\n\n…` : source));
  });
  return loading;
}

function configure(md: MarkdownIt): MarkdownIt {
  const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx]!.attrSet('rel', 'nofollow noopener noreferrer');
    return defaultLinkOpen(tokens, idx, options, env, self);
  };

  // A README's headings sit under the page's "README" heading (h2): shift them two levels, so the page keeps one h1
  // and a heading outline screen readers can follow.
  for (const rule of ['heading_open', 'heading_close'] as const) {
    md.renderer.rules[rule] = (tokens, idx, options, _env, self) => {
      const token = tokens[idx]!;
      token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + 2)}`;
      return self.renderToken(tokens, idx, options);
    };
  }
  return md;
}
