// The checks of scripts/observability/check.sh that need a parser: the alert rules' metadata,
// runbooks and unit-test coverage; the dashboards against Grafana's dashboard schema
// (@grafana/schema's types, through the TypeScript compiler) and their queries (through
// promtool); and every series a rule or panel queries against the series list
// (series.tsv) and the Rust sources.
//
//   node check.mjs <repository root> <tools prefix>
//
// <tools prefix> holds node_modules with yaml, @prometheus-io/lezer-promql, typescript and
// @grafana/schema (check.sh installs them). Prints what it checked; exits 1 on any problem.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const [root, prefix] = process.argv.slice(2);
if (!root || !prefix) {
  console.error('usage: node check.mjs <repository root> <tools prefix>');
  process.exit(2);
}
const require = createRequire(path.join(prefix, 'package.json'));
const YAML = require('yaml');
const { parser } = require('@prometheus-io/lezer-promql');
const ts = require('typescript');

const problems = [];
const warnings = [];
const fail = (message) => problems.push(message);
const rel = (file) => path.relative(root, file);
const read = (file) => fs.readFileSync(file, 'utf8');
const list = (dir, suffix) =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).sort().map((f) => path.join(dir, f)) : [];
const section = (title) => console.log(`== ${title}`);
const say = (line) => console.log(`  ${line}`);

const alertsDir = path.join(root, 'deploy/alerts');
const testsDir = path.join(alertsDir, 'tests');
const runbooksDir = path.join(root, 'docs/runbooks');
const dashboardsDir = path.join(root, 'deploy/dashboards');
const SEVERITIES = ['page', 'ticket'];
const SECTIONS = ['Symptom', 'Impact', 'Diagnose', 'Fix', 'Verify'];
const SERVICES = ['catalog', 'identity', 'gateway', 'basket', 'ordering', 'inventory', 'payments', 'shipping',
  'notifications', 'payment-provider'];
const kebab = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

// ---- the series list ------------------------------------------------------------------------
const series = new Map();
for (const line of read(path.join(root, 'scripts/observability/series.tsv')).split('\n')) {
  if (!line.trim() || line.startsWith('#')) continue;
  const [name, type, labels] = line.split('\t');
  series.set(name, { name, type, labels: new Set(labels.split(',')) });
}
const knownLabels = new Set(['job', 'instance', 'le', '__name__']);
for (const s of series.values()) for (const l of s.labels) knownLabels.add(l);

// ---- alert rules ----------------------------------------------------------------------------
section('alert rules: metadata, a comment on each, a runbook_url that matches');
const alerts = []; // one per rule: {name, severity, file, rule}
const records = new Map(); // recorded name -> labels it keeps
const expressions = []; // {where, expr}
const ruleFiles = list(alertsDir, '.rules.yml');
for (const file of ruleFiles) {
  const doc = YAML.parseDocument(read(file));
  if (doc.errors.length) { fail(`${rel(file)}: ${doc.errors[0].message}`); continue; }
  for (const group of doc.get('groups')?.items ?? []) {
    const rules = group.get('rules');
    (rules?.items ?? []).forEach((node, index) => {
      const rule = node.toJSON();
      const where = `${rel(file)} ${rule.alert ?? rule.record}`;
      expressions.push({ where, expr: rule.expr });
      if (rule.record) {
        const by = /sum by \(([^)]*)\)/.exec(rule.expr);
        records.set(rule.record, new Set(by ? by[1].split(',').map((l) => l.trim()) : []));
        return;
      }
      const comment = node.commentBefore || (index === 0 ? rules.commentBefore : '');
      if (!comment || !comment.trim()) fail(`${where}: no comment before the rule saying why its threshold`);
      const severity = rule.labels?.severity;
      if (!SEVERITIES.includes(severity)) fail(`${where}: labels.severity is ${severity ?? 'missing'}, not one of ${SEVERITIES}`);
      if (!rule.for) fail(`${where}: no for:`);
      for (const key of ['summary', 'description', 'runbook_url']) {
        if (!rule.annotations?.[key]?.trim()) fail(`${where}: no annotations.${key}`);
      }
      const expected = `docs/runbooks/${kebab(rule.alert)}.md`;
      if (rule.annotations?.runbook_url && rule.annotations.runbook_url !== expected) {
        fail(`${where}: runbook_url is ${rule.annotations.runbook_url}, expected ${expected}`);
      }
      alerts.push({ name: rule.alert, severity, file, rule });
    });
  }
}
const alertNames = [...new Set(alerts.map((a) => a.name))].sort();
say(`${ruleFiles.length} rule files, ${alerts.length} alerting rules (${alertNames.length} alerts), ${records.size} recording rules`);

// ---- runbooks -------------------------------------------------------------------------------
section('runbooks: one per alert, none without one, sections, commands and tables that exist');
const main = read(path.join(root, 'crates/flotilla/src/main.rs'));
const dlq = read(path.join(root, 'crates/flotilla/src/dlq.rs'));
const variants = (source, enumName) => {
  const body = new RegExp(`enum ${enumName} \\{([\\s\\S]*?)\\n\\}`).exec(source)?.[1] ?? '';
  return new Set([...body.matchAll(/^ {4}([A-Z][A-Za-z]*)\b/gm)].map((m) => kebab(m[1])));
};
const commands = variants(main, 'Command');
const dlqCommands = variants(dlq, 'DlqCommand');
if (!commands.has('dlq') || !dlqCommands.has('list')) fail('cannot read the flotilla commands from crates/flotilla/src');
const tables = new Set();
const migrationFiles = [];
const walk = (dir, visit) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'target' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, visit);
    else visit(full);
  }
};
for (const top of ['crates', 'services']) {
  walk(path.join(root, top), (file) => {
    if (file.endsWith('.sql') && file.includes(`${path.sep}migrations${path.sep}`)) migrationFiles.push(file);
  });
}
for (const file of migrationFiles) for (const m of read(file).matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)) tables.add(m[1]);
// The embedded bus keeps its log in tables of its own, created by its code (crates/messaging/src/embedded.rs).
walk(path.join(root, 'crates/messaging/src'), (file) => {
  if (file.endsWith('.rs')) for (const m of read(file).matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)) tables.add(m[1]);
});
// The databases' own catalogues, which a runbook may read (pg_stat_activity).
const systemTable = (name) => name.startsWith('pg_') || name.startsWith('sqlite_');
const runbookFiles = list(runbooksDir, '.md').filter((f) => path.basename(f) !== 'README.md');
const readme = fs.existsSync(path.join(runbooksDir, 'README.md')) ? read(path.join(runbooksDir, 'README.md')) : '';
if (!readme) fail('docs/runbooks/README.md is missing');
let flotillaCommands = 0;
let sqlTables = 0;
for (const name of alertNames) {
  const file = path.join(runbooksDir, `${kebab(name)}.md`);
  if (!fs.existsSync(file)) fail(`alert ${name} has no runbook ${rel(file)}`);
}
for (const file of runbookFiles) {
  const base = path.basename(file, '.md');
  const name = alertNames.find((n) => kebab(n) === base);
  if (!name) { fail(`${rel(file)} is the runbook of no alert`); continue; }
  const text = read(file);
  if (!text.split('\n')[0].includes(name)) fail(`${rel(file)}: the title does not name ${name}`);
  const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1].trim());
  const found = SECTIONS.map((s) => headings.indexOf(s));
  SECTIONS.forEach((s, i) => { if (found[i] < 0) fail(`${rel(file)}: no "## ${s}" section`); });
  if (found.every((i) => i >= 0) && found.some((v, i) => i > 0 && v < found[i - 1])) {
    fail(`${rel(file)}: sections not in the order ${SECTIONS.join(', ')}`);
  }
  const diagnose = /^## Diagnose$([\s\S]*?)^## /m.exec(text)?.[1] ?? '';
  if (!diagnose.includes('```')) fail(`${rel(file)}: Diagnose has no commands (a fenced block)`);
  if (!readme.includes(`(${base}.md)`) || !readme.includes(name)) fail(`docs/runbooks/README.md does not index ${name} (${base}.md)`);
  // Code: fenced blocks, and inline code spans in the prose around them.
  const blocks = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]);
  const prose = text.replace(/```[a-z]*\n[\s\S]*?```/g, '');
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  for (const code of [...blocks, ...spans]) {
    for (const command of code.matchAll(/(?:^|[\s(|;&])flotilla\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?/gm)) {
      flotillaCommands++;
      if (!commands.has(command[1])) fail(`${rel(file)}: \`flotilla ${command[1]}\` is no flotilla command (${[...commands]})`);
      else if (command[1] === 'dlq' && !dlqCommands.has(command[2])) fail(`${rel(file)}: \`flotilla dlq ${command[2]}\` is no dlq command`);
    }
  }
  for (const code of blocks) {
    for (const m of code.matchAll(/\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)\b/g)) {
      sqlTables++;
      if (!tables.has(m[1]) && !systemTable(m[1])) fail(`${rel(file)}: SQL names table ${m[1]}, which neither a migration nor the embedded bus creates`);
    }
  }
}
say(`${runbookFiles.length} runbooks for ${alertNames.length} alerts; ${flotillaCommands} flotilla commands and ${sqlTables} SQL table references checked against the code (${tables.size} tables: ${migrationFiles.length} migrations and the embedded bus)`);

// ---- unit tests -----------------------------------------------------------------------------
section('unit tests: every rule firing, every alert not firing');
const firing = new Map();
const notFiring = new Map();
const testedRuleFiles = new Set();
const testFiles = list(testsDir, '.test.yml');
let cases = 0;
for (const file of testFiles) {
  const doc = YAML.parse(read(file));
  for (const ruleFile of doc.rule_files ?? []) testedRuleFiles.add(path.resolve(path.dirname(file), ruleFile));
  for (const test of doc.tests ?? []) {
    for (const item of test.alert_rule_test ?? []) {
      cases++;
      const expected = item.exp_alerts ?? [];
      if (expected.length === 0) notFiring.set(item.alertname, (notFiring.get(item.alertname) ?? 0) + 1);
      for (const alert of expected) {
        const key = `${item.alertname}/${alert.exp_labels?.severity}`;
        firing.set(key, (firing.get(key) ?? 0) + 1);
      }
    }
  }
}
for (const file of ruleFiles) if (!testedRuleFiles.has(file)) fail(`${rel(file)} is in no test's rule_files`);
for (const { name, severity } of alerts) {
  if (!firing.get(`${name}/${severity}`)) fail(`no unit test sees ${name} (severity ${severity}) firing`);
}
for (const name of alertNames) if (!notFiring.get(name)) fail(`no unit test sees ${name} not firing`);
say(`${testFiles.length} test files, ${cases} alert cases: ${[...firing.values()].reduce((a, b) => a + b, 0)} firing expectations, ${[...notFiring.values()].reduce((a, b) => a + b, 0)} not-firing ones`);

// ---- dashboards -----------------------------------------------------------------------------
section('dashboards: ${datasource} everywhere, variables, layout, queries');
const DS = { type: 'prometheus', uid: '${datasource}' };
const isDs = (v) => v && typeof v === 'object' && v.type === DS.type && v.uid === DS.uid && Object.keys(v).length === 2;
const SUBSTITUTE = { service: 'catalog', consumer: 'ordering.checkout', upstream: 'catalog' };
const BUILTIN = { __rate_interval: '5m', __interval: '1m', __range: '1h' };
const dashboardFiles = list(dashboardsDir, '.json');
const dashboards = [];
const panelQueries = []; // {where, expr, record}
let panelCount = 0;
const uids = new Set();
for (const file of dashboardFiles) {
  let d;
  try { d = JSON.parse(read(file)); } catch (e) { fail(`${rel(file)}: not JSON: ${e.message}`); continue; }
  dashboards.push({ file, d });
  const at = rel(file);
  if (uids.has(d.uid)) fail(`${at}: uid ${d.uid} used twice`);
  uids.add(d.uid);
  const variables = d.templating?.list ?? [];
  const dsVar = variables.find((v) => v.name === 'datasource');
  if (!dsVar || dsVar.type !== 'datasource' || dsVar.query !== 'prometheus') {
    fail(`${at}: no variable "datasource" of type datasource for prometheus`);
  }
  const names = new Set(variables.map((v) => v.name));
  // Any data source reference anywhere is the variable: no fixed uid.
  const visit = (value, trail) => {
    if (Array.isArray(value)) value.forEach((v, i) => visit(v, `${trail}[${i}]`));
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'datasource' && !isDs(v)) fail(`${at}: ${trail}.datasource is ${JSON.stringify(v)}, not ${JSON.stringify(DS)}`);
        visit(v, `${trail}.${k}`);
      }
    }
  };
  visit(d.panels, 'panels');
  visit(variables.filter((v) => v.type !== 'datasource'), 'templating');
  const sanitize = (s) => s.replace(/[^a-zA-Z0-9_]/g, '_');
  const substitute = (expr, where) => {
    const out = expr.replace(/\$\{?(\w+)\}?/g, (whole, name) => {
      if (name in BUILTIN) return BUILTIN[name];
      if (!names.has(name)) { fail(`${where}: uses $${name}, which is no variable of the dashboard`); return whole; }
      if (!(name in SUBSTITUTE)) { fail(`${where}: no sample value for $${name} (check.mjs SUBSTITUTE)`); return whole; }
      return SUBSTITUTE[name];
    });
    return out;
  };
  for (const v of variables) {
    if (v.type !== 'query') continue;
    const where = `${at} variable ${v.name}`;
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(typeof v.query === 'string' ? v.query : '');
    if (!m) { fail(`${where}: query is not label_values(<selector>, <label>)`); continue; }
    if (!knownLabels.has(m[2])) fail(`${where}: label ${m[2]} is on no series`);
    panelQueries.push({ where, expr: substitute(m[1], where), record: `dashboard_check:${sanitize(d.uid)}:var_${sanitize(v.name)}` });
  }
  const panels = [];
  for (const p of d.panels ?? []) { panels.push(p); if (p.type === 'row') panels.push(...(p.panels ?? [])); }
  const ids = new Set();
  const cells = new Map();
  for (const p of panels) {
    const where = `${at} panel ${p.id} "${p.title}"`;
    if (ids.has(p.id)) fail(`${where}: id used twice`);
    ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1) fail(`${where}: gridPos ${JSON.stringify(g)} off the 24-column grid`);
    else {
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        const key = `${x},${y}`;
        if (cells.has(key)) { fail(`${where}: overlaps panel ${cells.get(key)}`); x = 99; break; }
        cells.set(key, p.id);
      }
    }
    if (p.type === 'row') continue;
    panelCount++;
    if (!isDs(p.datasource)) fail(`${where}: panel datasource is not \${datasource}`);
    if (!p.targets?.length) fail(`${where}: no queries`);
    const refs = new Set();
    for (const t of p.targets ?? []) {
      if (!t.refId || refs.has(t.refId)) fail(`${where}: refId ${t.refId} missing or repeated`);
      refs.add(t.refId);
      if (typeof t.expr !== 'string' || !t.expr.trim()) { fail(`${where} ${t.refId}: no expr`); continue; }
      const extra = Object.keys(t).filter((k) => !['datasource', 'editorMode', 'expr', 'legendFormat', 'refId', 'instant', 'range', 'format', 'interval', 'hide', 'exemplar'].includes(k));
      if (extra.length) fail(`${where} ${t.refId}: unknown query fields ${extra}`);
      panelQueries.push({ where: `${where} ${t.refId}`, expr: substitute(t.expr, `${where} ${t.refId}`), record: `dashboard_check:${sanitize(d.uid)}:panel${p.id}_${t.refId}` });
    }
  }
}
say(`${dashboardFiles.length} dashboards, ${panelCount} panels, ${panelQueries.length} queries (panels and variables)`);

// Every panel query, variables substituted, as a recording rule: promtool parses it as
// Prometheus would.
const work = fs.mkdtempSync(path.join(prefix, 'check-'));
try {
  const ruleFile = path.join(work, 'dashboards.rules.yml');
  fs.writeFileSync(ruleFile, YAML.stringify({
    groups: [{ name: 'dashboard-queries', rules: panelQueries.map((q) => ({ record: q.record, expr: q.expr })) }],
  }, { lineWidth: 0 }));
  const promtool = spawnSync('promtool', ['check', 'rules', ruleFile], { encoding: 'utf8' });
  if (promtool.status !== 0) fail(`promtool check rules over the dashboards' queries:\n${promtool.stdout}${promtool.stderr}`);
  else say(`promtool check rules: ${/(\d+) rules found/.exec(promtool.stdout)?.[1] ?? '?'} dashboard queries parse`);

  // ---- Grafana's dashboard schema ----------------------------------------------------------
  section("dashboards against Grafana's schema (@grafana/schema types, TypeScript compiler)");
  const schemaVersion = require('@grafana/schema/package.json').version;
  const composable = {
    timeseries: 'timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
    stat: 'stat/panelcfg/x/StatPanelCfg_types.gen',
    bargauge: 'bargauge/panelcfg/x/BarGaugePanelCfg_types.gen',
    table: 'table/panelcfg/x/TablePanelCfg_types.gen',
    gauge: 'gauge/panelcfg/x/GaugePanelCfg_types.gen',
  };
  const lines = [
    "import type { Dashboard, Panel, RowPanel } from '@grafana/schema';",
    ...Object.entries(composable).map(([t, p]) => `import type * as ${t} from '@grafana/schema/dist/esm/raw/composable/${p}';`),
    // The schema's enums are TypeScript string enums; JSON carries their values. Json<T> is T
    // with every enum replaced by the union of its values, everything else as it is, so that
    // excess-property and value checks stay strict.
    'type Json<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T : T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;',
  ];
  let checked = 0;
  dashboards.forEach(({ file, d }, n) => {
    lines.push(`// ${rel(file)}`);
    lines.push(`export const dashboard_${n}: Json<Dashboard> = ${JSON.stringify(d)};`);
    const panels = [];
    for (const p of d.panels ?? []) { panels.push(p); if (p.type === 'row') panels.push(...(p.panels ?? [])); }
    for (const p of panels) {
      const id = `${n}_${p.id}`;
      if (p.type === 'row') { lines.push(`export const row_${id}: Json<RowPanel> = ${JSON.stringify(p)};`); checked++; continue; }
      if (!(p.type in composable)) { fail(`${rel(file)} panel ${p.id}: panel type ${p.type} has no schema here (check.mjs composable)`); continue; }
      lines.push(`export const panel_${id}: Json<Panel> = ${JSON.stringify(p)};`);
      lines.push(`export const options_${id}: Json<${p.type}.Options> = ${JSON.stringify(p.options ?? {})};`);
      if (p.fieldConfig?.defaults?.custom) {
        lines.push(`export const custom_${id}: Json<${p.type}.FieldConfig> = ${JSON.stringify(p.fieldConfig.defaults.custom)};`);
      }
      checked++;
    }
  });
  const source = path.join(work, 'dashboards.ts');
  fs.writeFileSync(source, lines.join('\n') + '\n');
  const program = ts.createProgram([source], {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const generated = lines;
  for (const diagnostic of diagnostics) {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
    if (diagnostic.file && diagnostic.start !== undefined) {
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const owner = generated[line].slice(0, 60);
      const near = diagnostic.file.text.slice(Math.max(0, diagnostic.start - 40), diagnostic.start + 60).replace(/\n/g, ' ');
      fail(`Grafana schema: ${owner}...: ${text}\n    at column ${character}: ...${near}...`);
    } else fail(`Grafana schema: ${text}`);
  }
  say(`@grafana/schema ${schemaVersion} (dashboard schemaVersion ${require('@grafana/schema').defaultDashboard?.schemaVersion ?? '?'}), TypeScript ${ts.version}: ${dashboards.length} dashboards, ${checked} panels and rows with their options and field config, ${diagnostics.length} errors`);
  for (const { file, d } of dashboards) {
    if (d.schemaVersion !== require('@grafana/schema').defaultDashboard?.schemaVersion) {
      warnings.push(`${rel(file)}: schemaVersion ${d.schemaVersion}, @grafana/schema's is ${require('@grafana/schema').defaultDashboard?.schemaVersion}`);
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

// ---- series: in the list, with their labels, exported by the code --------------------------
section('series queried: in series.tsv with those labels, and exported by the Rust sources');
const literals = new Set();
let rustFiles = 0;
for (const top of ['crates', 'services']) {
  walk(path.join(root, top), (file) => {
    // Code that exports, not tests that read: a name only a test mentions is not exported.
    if (!file.endsWith('.rs') || file.includes(`${path.sep}tests${path.sep}`) || file.endsWith(`${path.sep}tests.rs`)) return;
    if (file.includes(`${path.sep}testkit${path.sep}`)) return;
    rustFiles++;
    for (const m of read(file).matchAll(/"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g)) literals.add(m[1]);
  });
}
const PROMETHEUS_OWN = (name) => name === 'up' || name.startsWith('process_') || name === 'ALERTS' || name === 'ALERTS_FOR_STATE';
const used = new Map(); // base series name -> [where]
let selectors = 0;
const text = (src, node) => src.slice(node.from, node.to);
const unquote = (s) => JSON.parse(s.startsWith("'") ? `"${s.slice(1, -1).replace(/"/g, '\\"')}"` : s.startsWith('`') ? JSON.stringify(s.slice(1, -1)) : s);
for (const { where, expr } of [...expressions, ...panelQueries]) {
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) fail(`${where}: lezer-promql cannot parse near "${expr.slice(node.from, node.from + 30)}"`);
      if (node.name === 'GroupingLabels') {
        for (let c = node.node.firstChild; c; c = c.nextSibling) {
          if (c.name === 'LabelName' && !knownLabels.has(text(expr, c))) fail(`${where}: groups by ${text(expr, c)}, a label no series has`);
        }
      }
      if (node.name !== 'VectorSelector') return;
      selectors++;
      const ident = node.node.getChild('Identifier');
      const name = ident ? text(expr, ident) : null;
      const matchers = [];
      const labelMatchers = node.node.getChild('LabelMatchers');
      for (let c = labelMatchers?.firstChild; c; c = c.nextSibling) {
        if (c.name !== 'UnquotedLabelMatcher' && c.name !== 'QuotedLabelMatcher') continue;
        const label = text(expr, c.getChild('LabelName') ?? c.getChild('QuotedLabelName'));
        const op = text(expr, c.getChild('MatchOp'));
        const value = unquote(text(expr, c.getChild('StringLiteral')));
        matchers.push({ label, op, value });
      }
      if (!name) { fail(`${where}: a selector without a metric name`); return; }
      if (records.has(name)) {
        for (const m of matchers) if (!records.get(name).has(m.label)) fail(`${where}: ${name} (recorded) has no label ${m.label}`);
        return;
      }
      if (PROMETHEUS_OWN(name) && !series.has(name)) return;
      let base = name;
      let s = series.get(name);
      if (!s) {
        const m = /^(.*)_(bucket|sum|count)$/.exec(name);
        if (m && series.get(m[1])?.type === 'histogram') { base = m[1]; s = series.get(base); }
      }
      if (!s) { fail(`${where}: ${name} is not in scripts/observability/series.tsv`); return; }
      if (!used.has(base)) used.set(base, []);
      used.get(base).push(where);
      for (const m of matchers) {
        const allowed = s.labels.has(m.label) || ['job', 'instance', '__name__'].includes(m.label) || (m.label === 'le' && name.endsWith('_bucket'));
        if (!allowed) fail(`${where}: ${name} has no label ${m.label}`);
        if (m.label === 'service' && (m.op === '=' || m.op === '=~')) {
          const values = m.op === '=' ? [m.value] : m.value.split('|');
          for (const v of values) if (v && !/[.*+?()[\]]/.test(v) && !SERVICES.includes(v)) fail(`${where}: service "${v}" is no service`);
        }
      }
    },
  });
}
const missing = [];
for (const name of [...used.keys()].sort()) {
  if (PROMETHEUS_OWN(name) || literals.has(name)) continue;
  missing.push(name);
}
const own = [...used.keys()].filter(PROMETHEUS_OWN).length;
say(`${selectors} selectors over ${used.size} series: ${used.size - own - missing.length} of ${used.size - own} found as string literals in ${rustFiles} Rust files under crates/ and services/ (tests left out), ${own} Prometheus' own (up, process_*)`);
for (const name of missing) {
  fail(`${name}: queried (${used.get(name).length}x, e.g. ${used.get(name)[0]}) but no Rust source under crates/ or services/ has it as a string literal`);
}
if (missing.length) say(`not in the sources: ${missing.join(', ')}`);
const unused = [...series.keys()].filter((n) => !used.has(n));
if (unused.length) say(`listed but queried by no rule or panel: ${unused.join(', ')}`);

// ---- verdict --------------------------------------------------------------------------------
for (const w of warnings) console.log(`warning: ${w}`);
if (problems.length) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log('check.mjs: no problems');
