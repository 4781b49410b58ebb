// @kubernetes/client-node 1.x through the gateway, unchanged. One scenario per run:
//   node client_node.mjs SCENARIO NAMESPACE   (KUBECONFIG: through the gateway; the namespace exists)
// Exits 0 when the scenario's checks hold, else prints why and exits 1. Driven by
// tests/integration/test_client_node.py, which prepares pods and Secrets straight on the stand-in.
import * as k8s from '@kubernetes/client-node';
import { PassThrough, Readable } from 'node:stream';

const [scenario, namespace] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(process.env.KUBECONFIG);
const core = kc.makeApiClient(k8s.CoreV1Api);
const MASKED_B64 = 'KioqTUFTS0VEKioq';

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function collect(stream) {
  let text = '';
  stream.on('data', (d) => { text += d.toString(); });
  return () => text;
}

function within(ms, promise, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);
}

const scenarios = {
  async crud() {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cm' }, data: { k: 'v1' } } });
    check((await core.readNamespacedConfigMap({ name: 'cm', namespace })).data.k === 'v1', 'read after create');
    await core.patchNamespacedConfigMap({ name: 'cm', namespace, body: { data: { k: 'v2' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    check((await core.readNamespacedConfigMap({ name: 'cm', namespace })).data.k === 'v2', 'read after patch');
    const list = await core.listNamespacedConfigMap({ namespace });
    check(list.items.some((c) => c.metadata.name === 'cm'), 'the list has the ConfigMap');
    await core.deleteNamespacedConfigMap({ name: 'cm', namespace });
    let status = 0;
    try { await core.readNamespacedConfigMap({ name: 'cm', namespace }); } catch (e) { status = e.code; }
    check(status === 404, `a deleted ConfigMap reads as 404, got ${status}`);
  },

  async watch() {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'first' } } });
    const seen = [];
    let request;
    await within(20000, new Promise((resolve, reject) => {
      new k8s.Watch(kc).watch(`/api/v1/namespaces/${namespace}/configmaps`, {}, (type, obj) => {
        seen.push(`${type} ${obj.metadata.name}`);
        if (obj.metadata.name === 'first' && seen.length === 1)
          core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'second' } } }).catch(reject);
        if (obj.metadata.name === 'second') resolve();
      }, (err) => { if (err && err.name !== 'AbortError') reject(err); }).then((r) => { request = r; }, reject);
    }), 'the watch');
    request.abort();
    check(seen[0] === 'ADDED first' && seen[1] === 'ADDED second', `events: ${seen.join(', ')}`);
  },

  async exec() {
    const stdout = new PassThrough(), stderr = new PassThrough();
    const out = collect(stdout), err = collect(stderr);
    const stdin = Readable.from(['alpha\nbeta\n']);
    const status = await within(20000, new Promise((resolve, reject) => {
      new k8s.Exec(kc).exec(namespace, 'box', 'main', ['sh', '-c', 'read a; read b; echo "$b $a"; echo oops >&2; exit 3'],
        stdout, stderr, stdin, false, resolve).catch(reject);
    }), 'exec');
    const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
    check(status.status === 'Failure' && code === '3', `exit status: ${JSON.stringify(status)}`);
    check(out().trim() === 'beta alpha', `stdout: ${out()}`);
    check(err().trim() === 'oops', `stderr: ${err()}`);
  },

  async logs() {
    const sink = new PassThrough();
    const text = collect(sink);
    const ended = new Promise((resolve) => sink.on('end', resolve));
    await new k8s.Log(kc).log(namespace, 'counter', 'main', sink, { follow: true });
    await within(20000, ended, 'log follow ending with the container');
    check(text() === 'line 1\nline 2\nline 3\n', `log: ${JSON.stringify(text())}`);
  },

  async portforward() {
    const output = new PassThrough(), errors = new PassThrough();
    const got = collect(output), errs = collect(errors);
    const input = new PassThrough();
    const ws = await new k8s.PortForward(kc).portForward(namespace, 'web', [8080], output, errors, input);
    input.write('ping through the gateway\n');
    await within(15000, new Promise((resolve) => {
      const poll = setInterval(() => { if (got().includes('ping through the gateway\n')) { clearInterval(poll); resolve(); } }, 50);
    }), 'the echo through port-forward');
    check(errs() === '', `port-forward errors: ${errs()}`);
    (typeof ws === 'function' ? ws() : ws).close();
  },

  async secret() {
    const secret = await core.readNamespacedSecret({ name: 'db', namespace });
    check(secret.data.password === MASKED_B64, `the Secret's value came back: ${secret.data.password}`);
    const list = await core.listNamespacedSecret({ namespace });
    const db = list.items.find((s) => s.metadata.name === 'db');
    check(db && db.data.password === MASKED_B64, 'the listed Secret is not masked');
  },
};

try {
  check(scenarios[scenario], `no scenario ${scenario}`);
  await scenarios[scenario]();
  process.exit(0);
} catch (e) {
  console.error(`client-node ${scenario}: ${e.stack || e}`);
  process.exit(1);
}
