// The operator console: reads federations, rounds, model versions, validation and encrypted-prediction
// sessions from the public API with the key the user pasted (held by api.js in memory only), and draws
// them. Every number on the page is one the API served; the page only formats, counts and subtracts
// timestamps. Views are chosen by the URL's fragment (#/ or #/federations/<id>), which never holds the key.
import { api, ApiError, forgetKey, hasKey, problemSlug, setKey } from './api.js';
import { barChart, formatNumber, lineChart } from './charts.js';

const LONG_POLL_SECONDS = 25;
const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes: API text is never parsed as HTML). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

let live = null; // the federation page's long-poll loop: { controller }

function status(text) {
  $('status').textContent = text;
}

function stopLive() {
  live?.controller.abort();
  live = null;
}

function showView(...nodes) {
  $('view').replaceChildren(...nodes);
}

/** A refusal or failure as a message that says what to do next; nothing else of the page is kept. */
function errorBox(error, context) {
  let title = 'Something went wrong';
  let advice = 'Try again; if it keeps happening, the server log has the request id.';
  if (error instanceof ApiError) {
    if (error.status === 401) {
      title = 'The server did not accept this key';
      advice = 'Check that you pasted the whole key (the server’s ADMIN_API_KEY, or a key from fedscore admin create-key), then Connect again. Nothing is shown without a valid key.';
    } else if (error.status === 403) {
      title = 'This key may not read this';
      advice = 'The console needs the operator key: the server’s ADMIN_API_KEY or a key from fedscore admin create-key. Scoped and owner keys are refused here.';
    } else if (error.status === 404) {
      title = 'Not found';
      advice = 'It may have been deleted, or the address is wrong. Go back to the list of federations.';
    } else if (error.status === 429) {
      title = 'Too many requests';
      advice = 'The server’s rate limit was reached; wait a minute and reload the view.';
    }
  } else if (error instanceof TypeError) {
    title = 'The server could not be reached';
    advice = 'Check that fedscore serve is running and reachable from this browser, then press Connect again.';
  }
  const detail = error instanceof ApiError ? `${error.status} ${error.title}${error.detail ? `: ${error.detail}` : ''}` : String(error.message ?? error);
  return el('section', { class: 'error', role: 'alert', id: 'error' }, el('h2', {}, title), el('p', {}, advice), el('p', { class: 'muted' }, `${context} — ${detail}`));
}

function refused(error, context) {
  stopLive();
  if (error instanceof ApiError && error.status === 401) {
    // A key the server refuses is dropped, so nothing more is asked with it.
    forgetKey();
    $('forget').hidden = true;
    $('welcome').hidden = false;
  }
  showView(errorBox(error, context));
  status('');
}

// ---- formatting -------------------------------------------------------------------------------------

const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—');

function duration(ms) {
  if (!(ms >= 0)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const STATE_SYMBOL = { open: '◷ open', summing: '∑ summing', closed: '✓ closed', failed: '✗ failed' };
const badge = (state) => el('span', { class: `badge state-${state}` }, STATE_SYMBOL[state] ?? state);

function num(value, digits) {
  return el('td', { class: 'num', dataset: typeof value === 'number' ? { value: String(value) } : {} }, formatNumber(value, digits));
}

function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]));
}

function table(caption, headers, rows, attributes = {}) {
  return el(
    'div',
    { class: 'scroll' },
    el('table', attributes, el('caption', {}, caption), el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', class: h.num ? 'num' : null }, h.label ?? h)))), el('tbody', {}, rows)),
  );
}

function panel(id, title, ...children) {
  return el('section', { class: 'panel', id, 'aria-labelledby': `${id}-heading` }, el('h2', { id: `${id}-heading`, tabindex: '-1' }, title), ...children);
}

function notice(text) {
  return el('p', { class: 'notice' }, text);
}

// ---- the list of federations ------------------------------------------------------------------------

async function showFederations() {
  stopLive();
  status('Loading federations…');
  showView(el('p', { class: 'muted' }, 'Loading federations…'));
  let list;
  try {
    list = await api('/v1/federations');
  } catch (error) {
    return refused(error, 'GET /v1/federations');
  }
  status(`${list.federations.length} federation(s).`);
  if (list.federations.length === 0) {
    return showView(panel('federations', 'Federations', notice('No federation yet. Create one with fedscore operator federations create (or POST /v1/federations), or run fedscore simulate --server against this server.')));
  }
  showView(
    panel(
      'federations',
      'Federations',
      el(
        'ul',
        { class: 'federations', id: 'federation-list' },
        list.federations.map((f) =>
          el(
            'li',
            { dataset: { federationId: f.id } },
            el('a', { href: `#/federations/${encodeURIComponent(f.id)}` }, f.name),
            el('div', { class: 'muted' }, `${f.id} · ${modelName(f.model)} · ${f.aggregation} aggregation · latest version ${f.latestModelVersion} · ${f.privacy ? `DP budget ε ${formatNumber(f.privacy.epsilon)}` : 'no differential privacy'} · created ${when(f.createdAt)}`),
          ),
        ),
      ),
    ),
  );
  // Keyboard and screen-reader users land on what just appeared.
  $('federations-heading').focus();
}

function modelName(model) {
  return model.kind === 'logreg' ? 'logistic regression' : `MLP ${model.hidden.join('×')} (${model.activation})`;
}

// ---- one federation ---------------------------------------------------------------------------------

/** Everything the federation page shows, read afresh. */
async function loadFederation(id, signal) {
  const base = `/v1/federations/${encodeURIComponent(id)}`;
  const optional = (promise, slug) => promise.catch((error) => (problemSlug(error) === slug || (slug === '*' && error instanceof ApiError && error.status !== 401) ? null : Promise.reject(error)));
  const [federation, owners, rounds, models, validation, sessions] = await Promise.all([
    api(base, { signal }),
    api(`${base}/owners`, { signal }),
    api(`${base}/rounds`, { signal }),
    api(`${base}/models`, { signal }),
    optional(api(`${base}/validation`, { signal }), 'validation-set-not-found'),
    api(`${base}/he-sessions`, { signal }),
  ]);
  return { federation, owners: owners.owners, rounds: rounds.rounds, models: models.models, validation, sessions: sessions.sessions };
}

async function showFederation(id) {
  stopLive();
  status('Loading the federation…');
  showView(el('p', { class: 'muted' }, 'Loading the federation…'));
  let data;
  try {
    data = await loadFederation(id);
  } catch (error) {
    return refused(error, `GET /v1/federations/${id}`);
  }
  const sections = {
    overview: overviewSection(data),
    owners: ownersSection(data),
    schema: schemaSection(data),
    rounds: roundsSection(data),
    quality: qualitySection(data),
    latest: latestSection(data),
    sessions: sessionsSection(data),
  };
  const nav = el(
    'nav',
    { class: 'sections', 'aria-label': 'Sections of this page' },
    el(
      'ul',
      {},
      Object.entries({ overview: 'Overview', owners: 'Owners', schema: 'Schema', rounds: 'Rounds', quality: 'Model quality', latest: 'Latest model', sessions: 'Encrypted prediction' }).map(([key, label]) =>
        el('li', {}, el('button', { type: 'button', class: 'link', onclick: () => focusSection(key) }, label)),
      ),
    ),
  );
  const header = el('div', {}, el('p', {}, el('a', { href: '#/' }, '← All federations')), el('h2', { id: 'federation-name', tabindex: '-1' }, data.federation.name), nav);
  showView(header, ...Object.values(sections));
  $('federation-name').focus();
  status(`Loaded ${data.federation.name}.`);
  startLive(id, data, sections);
}

function focusSection(key) {
  const heading = $(`${key}-heading`);
  heading?.scrollIntoView({ block: 'start' });
  heading?.focus();
}

function overviewSection({ federation: f }) {
  const t = f.training;
  const secure = f.secure;
  const privacy = f.privacy;
  return panel(
    'overview',
    'Overview',
    facts([
      ['Id', el('code', { id: 'federation-id' }, f.id)],
      ['Created', when(f.createdAt)],
      ['Model', el('span', { id: 'model-spec' }, modelName(f.model))],
      ['Aggregation', el('span', { id: 'aggregation' }, f.aggregation === 'secure' ? 'secure (Shamir shares: the server learns only the sum)' : 'plain (the server sees each update)')],
      ['Training', `${t.rounds} rounds planned · ${t.localEpochs} local epochs · batch ${t.batchSize} · learning rate ${t.learningRate} (${t.learningRateSchedule.kind})`],
      ['Rounds need', `${t.minOwners} owner(s) · deadline ${duration(t.roundDeadlineSeconds * 1000)} · ${t.autoAdvance ? 'next round opens automatically' : 'operator opens each round'}`],
      ['Committee', secure ? `${secure.committee.size} seats, ${secure.committee.threshold} partial sums needed · ${secure.policy.kind} · clip norm ${secure.clipNorm}` : 'none (plain aggregation)'],
      ['Differential privacy', privacy ? `budget ε ${formatNumber(privacy.epsilon)}, δ ${privacy.delta} · spent ε ${formatNumber(privacy.spent.epsilon)} over ${privacy.spent.rounds} round(s) · clip ${privacy.clipNorm} · noise ×${formatNumber(privacy.noiseMultiplier)}` : 'none'],
      ['Versions', `latest ${f.latestModelVersion} · promoted ${f.promotedModelVersion ?? 'none'} · default for predictions ${f.defaultModelVersion ?? 'none yet'}`],
      ['Selection', `${f.selection.rule} by ${f.selection.metric}${f.selection.patience ? `, early stopping after ${f.selection.patience}` : ''}${f.trainingStop ? ` · stopped early at version ${f.trainingStop.atVersion}` : ''}`],
      ['Charter fingerprint', f.charterFingerprint ? el('code', {}, f.charterFingerprint) : 'none'],
    ]),
  );
}

function ownersSection({ federation: f, owners }) {
  const active = owners.filter((o) => o.removedAt === null);
  const counts = [
    ['Enrolled', owners.length],
    ['Taking part', active.length],
    ['Removed', owners.length - active.length],
    ['Data owners', active.filter((o) => o.role === 'owner').length],
    ['Committee nodes without data', active.filter((o) => o.role === 'aggregator').length],
    ['Committee volunteers', active.filter((o) => o.committeeVolunteer).length],
  ];
  const output = el('div', { id: 'token-output', 'aria-live': 'polite' });
  const rotate = el('button', { type: 'button', id: 'rotate-token', onclick: () => confirmRotation(f.id, output) }, 'Rotate the enrolment token…');
  return panel(
    'owners',
    'Owners and enrolment',
    table('Owners by role and state (counts only)', ['', { label: 'Count', num: true }], counts.map(([label, count]) => el('tr', { dataset: { count: label } }, el('th', { scope: 'row' }, label), num(count))), { id: 'owner-counts' }),
    el('h3', {}, 'Enrolment token'),
    el('p', {}, 'New owners enrol with the federation’s enrolment token. Rotating it stops the current token working at once; enrolled owners keep their keys.'),
    rotate,
    output,
  );
}

function confirmRotation(federationId, output) {
  const yes = el('button', { type: 'button', class: 'danger', id: 'rotate-confirm' }, 'Rotate now');
  const no = el('button', { type: 'button' }, 'Cancel');
  no.addEventListener('click', () => output.replaceChildren());
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      const { enrolmentToken } = await api(`/v1/federations/${encodeURIComponent(federationId)}/enrolment-token`, { method: 'POST', body: {} });
      const field = el('input', { class: 'token', id: 'new-token', readonly: true, 'aria-label': 'New enrolment token', value: enrolmentToken });
      output.replaceChildren(el('p', {}, 'New enrolment token — shown once, the server keeps only its hash. Give it to the owners who still have to enrol:'), field);
      field.focus();
      field.select();
    } catch (error) {
      output.replaceChildren(errorBox(error, 'POST …/enrolment-token'));
    }
  });
  output.replaceChildren(el('p', {}, 'The current token will stop working. Rotate it? '), yes, ' ', no);
  yes.focus();
}

function schemaSection({ federation: f }) {
  const schema = f.datasetSchema;
  const standard = f.standardisation?.columns ?? {};
  const rows = schema.columns.map((c) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, c.name, c.name === schema.label.column ? ' (label)' : ''),
      el('td', {}, c.type),
      el(
        'td',
        {},
        c.type === 'numeric'
          ? [c.transform ? `transform ${c.transform}; ` : '', standard[c.name] ? `mean ${formatNumber(standard[c.name].mean)}, std ${formatNumber(standard[c.name].std)} (${standard[c.name].source})` : c.mean !== undefined ? `mean ${formatNumber(c.mean)}, std ${formatNumber(c.std)}` : 'standardisation not computed yet'].join('')
          : (c.values ?? []).join(', '),
      ),
    ),
  );
  return panel(
    'schema',
    'Dataset schema',
    el('p', {}, `${schema.columns.length} columns; label ${schema.label.column} (positive: ${schema.label.positive}); ${f.featureNames.length} encoded features.${schema.description ? ` ${schema.description}` : ''}`),
    table('Columns', ['Column', 'Type', 'Values or standardisation'], rows),
  );
}

/** Owners enrolled before the round opened and not removed by then: who could have taken part. */
function eligibleAt(round, owners) {
  const opened = Date.parse(round.openedAt);
  return owners.filter((o) => o.role === 'owner' && Date.parse(o.createdAt) <= opened && (o.removedAt === null || Date.parse(o.removedAt) > opened)).length;
}

function roundsSection({ rounds, owners }) {
  const liveLine = el('p', { id: 'live-state', class: 'muted' }, 'Live updates start once the page has loaded.');
  if (rounds.length === 0) {
    return panel('rounds', 'Rounds', liveLine, notice('No round has opened yet. Open one with fedscore operator rounds open (or POST …/rounds); this page updates by itself when it does.'));
  }
  const now = Date.now();
  const rows = [...rounds].reverse().map((r) => {
    const eligible = eligibleAt(r, owners);
    const settled = r.status === 'closed' || r.status === 'failed';
    const notIn = settled && r.sampling === null ? Math.max(0, eligible - r.submissionCount) : null;
    const took = r.closedAt ? Date.parse(r.closedAt) - Date.parse(r.openedAt) : now - Date.parse(r.openedAt);
    const committee = r.secure
      ? `${r.secure.partialSumCount} of ${r.secure.committee.length} partial sums (${r.secure.threshold} needed)${r.secure.includedCount !== null ? ` · ${r.secure.includedCount} in the sum` : ''}`
      : '—';
    return el(
      'tr',
      { dataset: { round: String(r.number), status: r.status } },
      el('th', { scope: 'row' }, String(r.number)),
      el('td', {}, r.kind + (r.kind === 'evaluation' && r.evaluation ? ` of v${r.evaluation.modelVersion}` : '')),
      el('td', {}, badge(r.status)),
      num(r.submissionCount),
      num(r.minOwners),
      el('td', { class: 'num', dataset: notIn === null ? {} : { value: String(notIn) } }, notIn === null ? (r.sampling ? 'sampled' : '—') : String(notIn)),
      el('td', { class: 'committee', dataset: r.secure ? { partialSums: String(r.secure.partialSumCount), seats: String(r.secure.committee.length), included: String(r.secure.includedCount ?? '') } : {} }, committee),
      el('td', {}, when(r.openedAt)),
      el('td', { class: 'num' }, r.closedAt ? duration(took) : `${duration(took)} so far`),
      el('td', {}, r.modelVersion === null ? '—' : `v${r.modelVersion}`),
      el('td', {}, r.failureReason ?? ''),
    );
  });
  const headers = ['Round', 'Kind', 'State', { label: 'Submitted', num: true }, { label: 'Needed', num: true }, { label: 'Did not submit', num: true }, 'Committee', 'Opened', { label: 'Duration', num: true }, 'Published', 'Failure reason'];
  return panel(
    'rounds',
    'Rounds',
    liveLine,
    el('p', { class: 'muted' }, '“Did not submit” counts the data owners enrolled when the round opened whose update (or shares) never arrived before it settled; sampled rounds ask only some owners.'),
    table('Rounds, newest first', headers, rows, { id: 'rounds-table' }),
  );
}

function qualitySection({ federation: f, models }) {
  const versions = [...models].sort((a, b) => a.version - b.version);
  const scored = versions.filter((m) => m.validation !== null);
  const trained = versions.filter((m) => m.metrics.trainLoss !== null);
  const children = [];
  if (scored.length === 0 && trained.length === 0) {
    children.push(notice('No version has scores yet. Attach a validation set (fedscore operator models validation --federation ID --file F) and run rounds; owners’ training loss appears once a round closes.'));
  } else {
    const rowsFor = (keys) => versions.map((m) => ({ x: m.version, ...Object.fromEntries(keys.map(([key, read]) => [key, read(m)])) }));
    const charts = [];
    if (scored.length > 0) {
      const acc = (m) => m.validation?.accuracy ?? null;
      const auc = (m) => m.validation?.auc ?? null;
      charts.push(
        lineChart({
          id: 'chart-accuracy',
          title: 'Validation accuracy and ROC AUC by model version',
          description: `Held-out accuracy (at threshold 0.5) and ROC AUC of each version on the operator’s validation set; the latest scored version has accuracy ${formatNumber(acc(scored.at(-1)))} and AUC ${formatNumber(auc(scored.at(-1)))}.`,
          xLabel: 'Model version',
          yLabel: 'Score (higher is better)',
          series: [
            { key: 'accuracy', name: 'Accuracy', points: versions.map((m) => ({ x: m.version, y: acc(m) })) },
            { key: 'auc', name: 'ROC AUC', points: versions.map((m) => ({ x: m.version, y: auc(m) })) },
          ],
          rows: rowsFor([
            ['accuracy', acc],
            ['auc', auc],
          ]),
        }),
      );
    }
    const loss = (m) => m.validation?.logLoss ?? null;
    const trainLoss = (m) => m.metrics.trainLoss;
    charts.push(
      lineChart({
        id: 'chart-loss',
        title: 'Loss by model version',
        description: 'Validation log loss of each version, and the owners’ aggregated local training loss (sample-weighted mean of what they reported) in the round that produced it.',
        xLabel: 'Model version',
        yLabel: 'Loss (lower is better)',
        series: [
          { key: 'logLoss', name: 'Validation log loss', points: versions.map((m) => ({ x: m.version, y: loss(m) })) },
          { key: 'trainLoss', name: 'Owners’ training loss', points: versions.map((m) => ({ x: m.version, y: trainLoss(m) })) },
        ],
        rows: rowsFor([
          ['logLoss', loss],
          ['trainLoss', trainLoss],
        ]),
      }),
    );
    children.push(el('div', { class: 'charts' }, charts));
  }
  if (f.privacy) {
    const eps = (m) => m.privacy?.epsilon ?? null;
    const last = versions.at(-1);
    children.push(
      el(
        'div',
        { class: 'charts' },
        lineChart({
          id: 'chart-privacy',
          title: 'Privacy spent (ε) against the budget',
          description: `ε spent by the federation up to each version, against its budget ε ${formatNumber(f.privacy.epsilon)} (δ ${f.privacy.delta}); spent so far ${formatNumber(f.privacy.spent.epsilon)}.`,
          xLabel: 'Model version',
          yLabel: 'ε',
          yDomain: [0, Math.max(f.privacy.epsilon, ...versions.map((m) => eps(m) ?? 0)) * 1.05],
          series: [{ key: 'epsilon', name: 'ε spent', points: versions.map((m) => ({ x: m.version, y: eps(m) })) }],
          references: [{ name: `budget ${formatNumber(f.privacy.epsilon)}`, points: [{ x: versions[0]?.version ?? 0, y: f.privacy.epsilon }, { x: last?.version ?? 1, y: f.privacy.epsilon }] }],
          rows: versions.map((m) => ({ x: m.version, epsilon: eps(m) })),
        }),
      ),
    );
  } else {
    children.push(el('p', { class: 'muted', id: 'privacy-none' }, 'Differential privacy: none in this federation, so no ε is spent. It can be set with PUT …/privacy before the first round.'));
  }
  const rows = [...versions].reverse().map((m) =>
    el(
      'tr',
      { dataset: { version: String(m.version) } },
      el('th', { scope: 'row' }, String(m.version), m.promoted ? ' (promoted)' : ''),
      el('td', {}, m.roundNumber === null ? 'initial' : String(m.roundNumber)),
      num(m.metrics.owners),
      num(m.metrics.samples),
      num(m.metrics.trainLoss),
      num(m.validation?.accuracy ?? null),
      num(m.validation?.auc ?? null),
      num(m.validation?.logLoss ?? null),
      num(m.validation?.brier ?? null),
      num(m.federatedEvaluation?.report.auc ?? null),
      num(m.privacy?.epsilon ?? null),
      el('td', {}, m.heEvaluable ? 'yes' : 'no'),
    ),
  );
  children.push(
    el('h3', {}, 'Every version'),
    table(
      'Model versions, newest first',
      ['Version', 'Round', { label: 'Owners', num: true }, { label: 'Samples', num: true }, { label: 'Train loss', num: true }, { label: 'Val. accuracy', num: true }, { label: 'Val. AUC', num: true }, { label: 'Val. log loss', num: true }, { label: 'Val. Brier', num: true }, { label: 'Owners’ AUC', num: true }, { label: 'ε', num: true }, 'Encrypted'],
      rows,
      { id: 'versions-table' },
    ),
  );
  return panel('quality', 'Model quality over rounds', ...children);
}

function latestSection({ models, validation }) {
  const latest = [...models].sort((a, b) => b.version - a.version).find((m) => m.validation !== null);
  if (!latest) {
    return panel(
      'latest',
      'Latest model on the validation set',
      notice(
        validation
          ? 'The validation set is attached but no version is scored yet: versions are scored once the federation has its standardisation (after the statistics round). Run a round.'
          : 'No validation set is attached, so there is no ROC curve, calibration or score distribution to show. Attach one with fedscore operator models validation --federation ID --file F.',
      ),
    );
  }
  const report = latest.validation;
  const roc = lineChart({
    id: 'chart-roc',
    title: `ROC curve of version ${latest.version}`,
    description: `True-positive rate against false-positive rate over ${report.roc.length} thresholds; AUC ${formatNumber(report.auc)}. The dashed diagonal is a model that guesses.`,
    xLabel: 'False-positive rate',
    yLabel: 'True-positive rate',
    xDomain: [0, 1],
    yDomain: [0, 1],
    markers: false,
    formatX: (v) => formatNumber(v, 3),
    series: [{ key: 'tpr', name: `v${latest.version}`, points: report.roc.map((p) => ({ x: p.fpr, y: p.tpr })) }],
    references: [{ name: 'chance', points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }],
    rows: report.roc.map((p) => ({ x: p.fpr, tpr: p.tpr, threshold: p.threshold })),
  });
  const bins = report.calibration.filter((b) => b.count > 0);
  const calibration = lineChart({
    id: 'chart-calibration',
    title: `Calibration (reliability) of version ${latest.version}`,
    description: `Observed rate of positives against the mean predicted probability in each of ${report.calibration.length} probability bins (${bins.length} not empty). Points on the dashed diagonal are perfectly calibrated.`,
    xLabel: 'Mean predicted probability',
    yLabel: 'Observed positive rate',
    xDomain: [0, 1],
    yDomain: [0, 1],
    series: [{ key: 'observedRate', name: 'observed', points: bins.map((b) => ({ x: b.meanPredicted, y: b.observedRate })) }],
    references: [{ name: 'perfect', points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }],
    rows: bins.map((b) => ({ x: b.meanPredicted, observedRate: b.observedRate, count: b.count })),
  });
  // The table's count column: a series without points, so it shows in the text alternative only.
  const histogram = barChart({
    id: 'chart-scores',
    title: `Score distribution of version ${latest.version}`,
    description: `How many validation rows of each class fall in each of ${report.scoreHistogram.positives.length} score bins: ${report.positives} positives, ${report.rows - report.positives} negatives.`,
    xLabel: 'Predicted probability of the positive class',
    yLabel: 'Validation rows',
    bins: report.scoreHistogram.positives.map((_, b, all) => ({ lower: b / all.length, upper: (b + 1) / all.length })),
    series: [
      { key: 'positives', name: 'Positives', values: report.scoreHistogram.positives },
      { key: 'negatives', name: 'Negatives', values: report.scoreHistogram.negatives },
    ],
  });
  addColumn(roc, 'threshold', 'Threshold', report.roc.map((p) => p.threshold));
  addColumn(calibration, 'count', 'Rows in bin', bins.map((b) => b.count));
  const c = report.confusion;
  return panel(
    'latest',
    `Latest model on the validation set (version ${latest.version})`,
    facts([
      ['Validation rows', `${report.rows} (${report.positives} positive) · majority-class rate ${formatNumber(report.majorityRate)}`],
      ['At threshold 0.5', `accuracy ${formatNumber(report.accuracy)} · ${c.truePositives} TP, ${c.falsePositives} FP, ${c.trueNegatives} TN, ${c.falseNegatives} FN`],
      ['Ranking', `AUC ${formatNumber(report.auc)} · KS ${formatNumber(report.ks)}`],
      ['Probabilities', `log loss ${formatNumber(report.logLoss)} · Brier ${formatNumber(report.brier)}`],
    ]),
    el('div', { class: 'charts' }, roc, calibration, histogram),
  );
}

/** Adds a column to a chart's data table (values the chart does not draw, such as thresholds). */
function addColumn(figure, key, label, values) {
  const tableNode = figure.querySelector('table');
  tableNode.querySelector('thead tr').append(el('th', { scope: 'col' }, label));
  [...tableNode.querySelectorAll('tbody tr')].forEach((row, i) => {
    const value = values[i];
    row.append(el('td', { dataset: { series: key, ...(typeof value === 'number' ? { value: String(value) } : {}) } }, value === null ? 'above every score' : formatNumber(value)));
  });
}

function sessionsSection({ sessions }) {
  if (sessions.length === 0) {
    return panel(
      'sessions',
      'Encrypted-prediction sessions',
      notice('No key session is open for this federation. A lender opens one with fedscore predict --encrypted (or POST /v1/he-sessions) and a he-predict key; it appears here with its prediction count.'),
    );
  }
  const rows = sessions.map((s) =>
    el(
      'tr',
      { dataset: { session: s.id } },
      el('th', { scope: 'row' }, el('code', {}, s.id)),
      el('td', {}, `v${s.modelVersion}`),
      el('td', {}, s.layout),
      el('td', {}, s.creatorKeyId === 'env' ? 'operator (ADMIN_API_KEY)' : s.creatorKeyId),
      el('td', {}, when(s.createdAt)),
      el('td', {}, s.expired ? `expired ${when(s.expiresAt)}` : when(s.expiresAt)),
      num(s.queriesUsed),
      num(s.queryBudget),
    ),
  );
  return panel(
    'sessions',
    'Encrypted-prediction sessions',
    el('p', { class: 'muted' }, 'Counts only: the server never sees an applicant’s features or score. A batched request counts every slot of its ciphertexts.'),
    table('Key sessions, newest first', ['Session', 'Model', 'Layout', 'Opened by', 'Opened', 'Expires', { label: 'Applicant slots evaluated', num: true }, { label: 'Budget', num: true }], rows, { id: 'sessions-table' }),
  );
}

// ---- live refresh -----------------------------------------------------------------------------------

/**
 * Waits on GET …/rounds/current?after=<tag>&waitSeconds=N (the API's long poll, which owner agents use
 * too) and, whenever the current round's tag changes, reads the page's data again and redraws the rounds,
 * the model quality and the latest model in place.
 */
function startLive(id, data, sections) {
  const controller = new AbortController();
  live = { controller };
  const base = `/v1/federations/${encodeURIComponent(id)}`;
  let tag = data.rounds.at(-1)?.tag ?? 'none';
  const line = () => $('live-state');
  const say = (text) => {
    const node = line();
    if (node) node.textContent = text;
  };
  const describe = (round) => (round ? `round ${round.number} is ${round.status}` : 'no round has opened yet');
  say(`Live: ${describe(data.rounds.at(-1))}; this page updates when that changes.`);
  (async () => {
    let failures = 0;
    while (!controller.signal.aborted && hasKey()) {
      try {
        const round = await api(`${base}/rounds/current?after=${encodeURIComponent(tag)}&waitSeconds=${LONG_POLL_SECONDS}`, { signal: controller.signal });
        failures = 0;
        if (round.tag === tag) continue;
        tag = round.tag;
        const fresh = await loadFederation(id, controller.signal);
        if (controller.signal.aborted) return;
        for (const [key, build] of [
          ['rounds', roundsSection],
          ['quality', qualitySection],
          ['latest', latestSection],
          ['sessions', sessionsSection],
        ]) {
          const next = build(fresh);
          // A data table someone opened stays open across the redraw.
          for (const details of sections[key].querySelectorAll('figure[id] > details[open]')) next.querySelector(`#${details.parentElement.id} > details`)?.setAttribute('open', '');
          sections[key].replaceWith(next);
          sections[key] = next;
        }
        say(`Live: ${describe(round)} (updated ${new Date().toLocaleTimeString()}).`);
        status(`Round ${round.number} is ${round.status}.`);
      } catch (error) {
        if (controller.signal.aborted) return;
        if (problemSlug(error) === 'no-rounds') continue;
        if (error instanceof ApiError && error.status === 401) return refused(error, 'GET …/rounds/current');
        failures++;
        const wait = Math.min(30, 2 ** failures);
        say(`Live updates paused (${error instanceof ApiError ? `${error.status} ${error.title}` : 'the server did not answer'}); retrying in ${wait} s.`);
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      }
    }
  })();
}

// ---- wiring -----------------------------------------------------------------------------------------

function route() {
  if (!hasKey()) {
    stopLive();
    showView();
    $('welcome').hidden = false;
    return;
  }
  $('welcome').hidden = true;
  const match = /^#\/federations\/([A-Za-z0-9_-]{1,64})$/.exec(location.hash);
  if (match) void showFederation(match[1]);
  else void showFederations();
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('key-input');
  const value = input.value.trim();
  input.value = '';
  if (!value) {
    showView(el('section', { class: 'error', role: 'alert', id: 'error' }, el('h2', {}, 'Paste a key first'), el('p', {}, 'The key field is empty. Paste the operator key (the server’s ADMIN_API_KEY, or a key from fedscore admin create-key) and press Connect.')));
    input.focus();
    return;
  }
  setKey(value);
  $('forget').hidden = false;
  route();
});

$('forget').addEventListener('click', () => {
  forgetKey();
  $('forget').hidden = true;
  status('Key forgotten.');
  route();
  $('key-input').focus();
});

window.addEventListener('hashchange', route);
route();
