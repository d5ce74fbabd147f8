/**
 * docker-compose.yml, the Dockerfile and docs/deploy.md agree, without a container engine: the
 * YAML parses; every service, volume, port and healthcheck the deployment page names exists as
 * named; the stores are reachable only on the internal network; Sluice's environment passes its
 * own configuration check; the Dockerfile has its stages, a non-root USER, a HEALTHCHECK on
 * /readyz and EXPOSE 8080 2222.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Healthcheck {
  test: string | string[];
}
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: Healthcheck;
  networks?: string[];
  depends_on?: Record<string, { condition: string }>;
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const compose = parse(read('docker-compose.yml')) as Compose;
const docs = read('docs/deploy.md');
const dockerfile = read('Dockerfile');

/** `${NAME:-default}` → default, as Compose substitutes it when NAME is unset. */
function substituteDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test;
  assert.ok(test, 'no healthcheck');
  return Array.isArray(test) ? test.join(' ') : test;
}

/** The rows of the "What runs" table in docs/deploy.md, cell by cell. */
function documentedServices(): Array<{
  service: string;
  from: string;
  ports: string;
  volume: string;
  healthcheck: string;
}> {
  const section = docs.slice(docs.indexOf('## What runs'), docs.indexOf('## Run it'));
  return section
    .split('\n')
    .filter((line) => /^\| `[a-z-]+` /.test(line))
    .map((line) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      return {
        service: cells[0]!.replaceAll('`', ''),
        from: cells[1]!,
        ports: cells[2]!,
        volume: cells[3]!,
        healthcheck: cells[4]!,
      };
    });
}

const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('docker-compose.yml', () => {
  const rows = documentedServices();

  it('parses and defines exactly the services docs/deploy.md lists', () => {
    assert.equal(compose.name, 'sluice');
    assert.deepEqual(rows.map((r) => r.service).sort(), ['kurrentdb', 'postgres', 'sluice']);
    assert.deepEqual(Object.keys(compose.services).sort(), rows.map((r) => r.service).sort());
  });

  for (const row of documentedServices()) {
    it(`service ${row.service}: image or build, ports, volume and healthcheck as documented`, () => {
      const service = compose.services[row.service];
      assert.ok(service, `no service ${row.service}`);

      const [source, ...stages] = code(row.from);
      if (row.from.startsWith('image')) {
        assert.equal(service.image, source);
        assert.match(source!, /:\d+\.\d+(\.\d+)?(-[a-z]+)?$/, 'pinned to a version');
      } else {
        assert.equal(source, 'Dockerfile');
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        assert.ok(build, 'built from the repository');
        assert.equal(build.dockerfile ?? 'Dockerfile', 'Dockerfile');
        for (const stage of stages) assert.match(dockerfile, new RegExp(`^FROM \\S+ AS ${stage}$`, 'm'));
      }

      const ports = code(row.ports);
      const published = (service.ports ?? []).map((p) => p.split(':'));
      assert.deepEqual(
        published.map(([host]) => host),
        ports,
        `published ports of ${row.service}`,
      );
      for (const [host, container] of published) assert.equal(host, container);

      const [volume, mount] = code(row.volume);
      assert.ok(volume && mount);
      assert.ok(compose.volumes && volume in compose.volumes, `volume ${volume} is declared`);
      assert.ok(
        service.volumes?.includes(`${volume}:${mount}`),
        `${row.service} mounts ${volume} at ${mount}`,
      );

      const [check] = code(row.healthcheck);
      assert.ok(check);
      const expected = check.startsWith('GET ') ? check.slice(4) : check;
      assert.ok(
        healthcheckText(service).includes(expected),
        `${row.service}'s healthcheck runs ${expected}: ${healthcheckText(service)}`,
      );
    });
  }

  it('declares exactly the documented volumes, and the backup commands name them as Compose does', () => {
    assert.deepEqual(Object.keys(compose.volumes ?? {}).sort(), ['files', 'kurrentdb-data', 'pgdata']);
    for (const [, volume] of docs.matchAll(/sluice_([a-z-]+):/g)) {
      assert.ok(volume! in (compose.volumes ?? {}), `docs name volume sluice_${volume}`);
    }
  });

  it('keeps KurrentDB (insecure) and PostgreSQL on the internal network only, unpublished', () => {
    assert.equal(compose.networks?.internal?.internal, true);
    assert.ok(compose.networks && 'public' in compose.networks);
    for (const name of ['kurrentdb', 'postgres']) {
      const service = compose.services[name]!;
      assert.deepEqual(service.networks, ['internal'], `${name} networks`);
      assert.equal(service.ports, undefined, `${name} publishes no port`);
    }
    assert.equal(compose.services.kurrentdb!.environment?.KURRENTDB_INSECURE, 'true');
    assert.deepEqual(compose.services.sluice!.networks?.sort(), ['internal', 'public']);
  });

  it('starts Sluice after both stores are healthy, with an environment its configuration accepts', () => {
    const sluice = compose.services.sluice!;
    assert.deepEqual(sluice.depends_on, {
      kurrentdb: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
    const env = Object.fromEntries(
      Object.entries(sluice.environment ?? {}).map(([k, v]) => [k, substituteDefaults(String(v))]),
    );
    const config = loadConfig(env);
    assert.equal(config.eventStoreUrl, 'esdb://kurrentdb:2113?tls=false');
    assert.match(config.databaseUrl ?? '', /@postgres:5432\/sluice$/);
    assert.equal(config.httpPort, 8080);
    assert.equal(config.sftpPort, 2222);
    assert.equal(config.dataDir, '/var/lib/sluice');
    assert.ok(healthcheckText(sluice).includes(`:${config.httpPort}/readyz`));
    // The documented values are the compose values.
    for (const [variable, value] of [
      ['EVENTSTORE_URL', 'esdb://kurrentdb:2113?tls=false'],
      ['MFT_DATA_DIR', '/var/lib/sluice'],
      ['MFT_READY_MAX_LAG', '1000000'],
    ] as const) {
      assert.equal(sluice.environment?.[variable], value);
      assert.ok(docs.includes(`| \`${variable}\``) && docs.includes(`\`${value}\``), `docs show ${variable}`);
    }
    assert.equal(new URL(config.databaseUrl!).hostname, 'postgres');
    assert.equal(new URL(config.eventStoreUrl!.replace(/^esdb:/, 'http:')).hostname, 'kurrentdb');
  });
});

describe('Dockerfile', () => {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.flatMap((l, i) => (/^FROM /.test(l) ? [{ line: l, index: i }] : []));
  const finalStage = lines.slice(stages[stages.length - 1]!.index);

  it('is multi-stage: deps builds node_modules, runtime copies them', () => {
    assert.deepEqual(
      stages.map((s) => s.line.split(/\s+AS\s+/)[1]),
      ['deps', 'runtime'],
    );
    assert.ok(lines.some((l) => /^RUN npm ci --omit=dev$/.test(l)));
    assert.ok(finalStage.some((l) => l.startsWith('COPY --from=deps ')));
  });

  it('runs as a non-root user', () => {
    const users = finalStage.filter((l) => l.startsWith('USER '));
    assert.equal(users.length, 1);
    const user = users[0]!.slice(5).trim();
    assert.ok(!['root', '0', '0:0'].includes(user), `USER ${user}`);
  });

  it('checks health on /readyz and exposes the ports compose publishes (HTTP, SFTP, FTPS and its passive range)', () => {
    const healthcheck = finalStage.find((l) => l.startsWith('HEALTHCHECK '));
    assert.ok(healthcheck?.includes('/readyz'), healthcheck);
    const exposed = finalStage
      .filter((l) => l.startsWith('EXPOSE '))
      .flatMap((l) => l.slice(7).trim().split(/\s+/));
    const published = (compose.services.sluice?.ports ?? []).map((p) => p.split(':')[1]!);
    assert.deepEqual(exposed.sort(), published.sort());
    assert.ok(
      ['8080', '2222', '2121', '9990', '50000-50019'].every((p) => exposed.includes(p)),
      exposed.join(' '),
    );
  });

  it('.dockerignore keeps the host node_modules and data out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'data', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});
