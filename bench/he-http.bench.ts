/**
 * Encrypted prediction end to end over HTTP on 127.0.0.1: the lender's client creating its key session,
 * then single-applicant requests one after another (latency including encryption, transfer, the worker
 * pool and decryption) and one batched request scoring every crx test row. Complements `he`, which times
 * the evaluation in process.
 */
import path from 'node:path';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants } from '../src/crypto/ckks/client.js';
import { recommendedParams } from '../src/crypto/ckks/layout.js';
import { encodeMaterial } from '../src/crypto/ckks/material.js';
import { heShapeOf } from '../src/client/encrypted-scoring.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows } from '../src/client/local-data.js';
import { runSimulation } from '../src/client/simulation.js';
import type { HeLayout } from '../src/crypto/ckks/layout.js';
import type { ModelSpec } from '../src/ml/model-spec.js';
import { initTf } from '../src/ml/tf.js';
import { percentile, repoRoot, round3, sharedData, withServer, writeResult } from './bench-io.js';

const SINGLE_REQUESTS = 100;

export async function heHttpBench(): Promise<void> {
  await initTf('cpu');
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  const train = encodeRows(schema, parts.train);
  const test = encodeRows(schema, parts.test!);
  const rows: (string | number)[][] = [];
  const data: object[] = [];
  for (const [label, model, learningRate] of [
    ['logreg', { kind: 'logreg' }, 3],
    ['MLP 16 square', { kind: 'mlp', hidden: [16], activation: 'square' }, 0.3],
  ] as [string, ModelSpec, number][]) {
    await withServer(async (operator) => {
      const trained = await runSimulation({
        operator,
        name: `he-http ${label}`,
        schema,
        model,
        training: { rounds: 3, epochs: 1, batchSize: 32, learningRate, seed: 42 },
        mode: 'plain',
        shards: shardRows(train),
        evaluation: test,
        concurrency: 16,
      });
      for (const layout of ['single', 'batched'] as HeLayout[]) {
        const shape = heShapeOf(model, test.X[0]!.length);
        const session = await createKeySession(recommendedParams(layout, shape), layout, shape);
        try {
          const material = encodeMaterial(session.publicMaterial);
          let t0 = performance.now();
          const created = await operator.createHeSession(trained.federationId, material);
          const sessionMs = performance.now() - t0;
          const latencies: number[] = [];
          let requestBytes = 0;
          let responseBytes = 0;
          const count = layout === 'single' ? SINGLE_REQUESTS : 1;
          for (let i = 0; i < count; i++) {
            const batch = layout === 'single' ? [test.X[i % test.X.length]!] : test.X;
            t0 = performance.now();
            const ciphertexts = encryptApplicants(session, batch);
            const answers = await operator.predictEncrypted(created.id, ciphertexts);
            decryptScores(session, answers, batch.length);
            latencies.push(performance.now() - t0);
            requestBytes = ciphertexts.reduce((sum, c) => sum + c.byteLength, 0);
            responseBytes = answers.reduce((sum, c) => sum + c.byteLength, 0);
          }
          const result = {
            model: label,
            layout,
            applicantsPerRequest: layout === 'single' ? 1 : test.X.length,
            requests: count,
            sessionUploadKB: round3(material.byteLength / 1024),
            sessionCreateMs: round3(sessionMs),
            p50Ms: round3(percentile(latencies, 50)),
            p95Ms: round3(percentile(latencies, 95)),
            requestKB: round3(requestBytes / 1024),
            responseKB: round3(responseBytes / 1024),
          };
          data.push(result);
          rows.push([label, layout, result.applicantsPerRequest, result.sessionUploadKB, result.sessionCreateMs, result.p50Ms, result.p95Ms, result.requestKB, result.responseKB]);
        } finally {
          closeKeySession(session);
        }
      }
    });
  }
  await writeResult('he-http', { runs: data }, [
    {
      title: 'Encrypted prediction over HTTP (127.0.0.1), client encryption and decryption included',
      columns: ['model', 'layout', 'applicants / request', 'session upload KB', 'session create ms', 'p50 ms', 'p95 ms', 'request KB', 'response KB'],
      rows,
      notes: [
        `single: ${SINGLE_REQUESTS} requests one after another; batched: one request with all 131 crx test rows.`,
        'Latency = encrypt + POST (framed binary) + server evaluation in the worker pool + decrypt; the first request also warms the worker.',
      ],
    },
  ]);
}
