/**
 * Finds the relative links of Markdown files and checks that each one resolves: the file (or
 * folder) it names exists, and the `#anchor` it names is a heading of that Markdown file, slugged
 * as GitHub renders it. Links inside code spans and fenced code are not links, so the Markdown is
 * parsed (marked's GFM lexer), not searched with a regular expression.
 */
import { marked, type Token, type Tokens } from "marked";
import GithubSlugger from "github-slugger";
import { posix } from "node:path";

/** One link as written in a Markdown file. */
export interface MarkdownLink {
  readonly href: string;
}

/** A link that does not resolve, with the reason. */
export interface BrokenLink {
  readonly file: string;
  readonly href: string;
  readonly reason: string;
}

/** What the checker may look at: the Markdown files by repository path, and which paths exist. */
export interface LinkTree {
  /** Markdown text by path relative to the repository root (posix separators). */
  readonly markdown: ReadonlyMap<string, string>;
  /** True when the path (relative to the root) is a file or a folder of the tree. */
  readonly exists: (path: string) => boolean;
}

/** Every link and image target of `markdown`, reference definitions included, in document order. */
export function extractLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  const tokens = marked.lexer(markdown);
  marked.walkTokens(tokens, (token) => {
    if (token.type === "link" || token.type === "image") {
      links.push({ href: (token as Tokens.Link | Tokens.Image).href });
    }
  });
  // Reference definitions (`[name]: target`) are kept by the lexer apart from the tokens.
  for (const definition of Object.values(tokens.links)) links.push({ href: definition.href });
  return links;
}

/** The anchors GitHub gives the headings of `markdown` (`## Grafana login` → `grafana-login`). */
export function headingAnchors(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  marked.walkTokens(marked.lexer(markdown), (token) => {
    if (token.type === "heading") {
      anchors.add(slugger.slug(plainText((token as Tokens.Heading).tokens)));
    }
  });
  return anchors;
}

/** The text a reader sees of inline tokens: code spans keep their text, links their label. */
function plainText(tokens: readonly Token[] | undefined): string {
  return (tokens ?? []).map((token) => {
    if ("tokens" in token && token.tokens) return plainText(token.tokens);
    if (token.type === "codespan" || token.type === "text" || token.type === "escape") {
      return token.text;
    }
    return "";
  }).join("");
}

/** True for a target that leaves the repository: a scheme (`https:`, `mailto:`) or `//host`. */
function isExternal(href: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("//");
}

/** Checks every relative link of every Markdown file of `tree`; returns the ones that fail. */
export function findBrokenLinks(tree: LinkTree): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string) => {
    let found = anchorsOf.get(path);
    if (!found) anchorsOf.set(path, found = headingAnchors(tree.markdown.get(path) ?? ""));
    return found;
  };
  const broken: BrokenLink[] = [];
  for (const [file, text] of tree.markdown) {
    for (const { href } of extractLinks(text)) {
      if (href === "" || isExternal(href)) continue;
      const hash = href.indexOf("#");
      const pathPart = decodeURIComponent(hash < 0 ? href : href.slice(0, hash));
      const anchor = hash < 0 ? undefined : decodeURIComponent(href.slice(hash + 1));
      // A leading slash is the repository root, as GitHub resolves it.
      const target = pathPart === "" ? file : posix.normalize(
        pathPart.startsWith("/") ? pathPart.slice(1) : posix.join(posix.dirname(file), pathPart),
      ).replace(/\/$/, "");
      if (target.startsWith("..")) {
        broken.push({ file, href, reason: "points outside the repository" });
      } else if (!tree.exists(target)) {
        broken.push({ file, href, reason: `${target} does not exist` });
      } else if (anchor && target.endsWith(".md") && !anchors(target).has(anchor)) {
        broken.push({ file, href, reason: `${target} has no heading #${anchor}` });
      }
    }
  }
  return broken;
}
