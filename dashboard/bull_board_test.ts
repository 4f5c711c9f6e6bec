import { strict as assert } from "node:assert";
import { bullBoardUiDir, withoutRemoteLinks } from "./bull_board.ts";

Deno.test("links to other hosts are removed from a page; links to its own files stay", () => {
  const html = `<head>
    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans&display=swap" rel="stylesheet">
<link rel="preconnect" href="//fonts.gstatic.com">
<link href="static/css/main.css" rel="stylesheet"><link rel="icon" href="/static/images/logo.svg">
</head>`;
  assert.equal(
    withoutRemoteLinks(html),
    `<head>
    <link href="static/css/main.css" rel="stylesheet"><link rel="icon" href="/static/images/logo.svg">
</head>`,
  );
});

Deno.test("bull-board's page, as its package ships it, loads IBM Plex from Google Fonts and nothing else from another host", async () => {
  const page = await Deno.readTextFile(`${await bullBoardUiDir()}/dist/index.ejs`);
  assert.match(page, /fonts\.googleapis\.com/, "the upstream page changed: check the font link");
  assert.doesNotMatch(withoutRemoteLinks(page), /(src|href)="(https?:)?\/\//);
});

Deno.test("bull-board's UI files are found in the @bull-board/ui package", async () => {
  const dir = await bullBoardUiDir();
  assert.match(dir, /@bull-board[\\/]ui/);
  assert.ok((await Deno.stat(`${dir}/dist/static/images/logo.svg`)).isFile);
});
