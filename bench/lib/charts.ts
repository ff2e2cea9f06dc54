/** Real Helm chart archives (the layout `helm package` writes) for seeding the benchmark. */
import { makeTgz, type TarEntry } from '../../test/helpers/npm.js';

/** `extra` files go into the archive too (the OCI scenarios' large charts carry an incompressible payload). */
export function chartTgz(name: string, version: string, extra: TarEntry[] = []): Buffer {
  const chartYaml = [
    'apiVersion: v2',
    `name: ${name}`,
    `version: ${version}`,
    `appVersion: "${version}"`,
    `description: Benchmark chart ${name}`,
    'type: application',
    'keywords: [bench, wharf]',
    'maintainers:',
    '  - name: Wharf Bench',
    '    email: bench@example.com',
    '',
  ].join('\n');
  return makeTgz([
    { path: `${name}/Chart.yaml`, content: chartYaml },
    { path: `${name}/values.yaml`, content: 'replicaCount: 1\nimage:\n  repository: nginx\n  tag: stable\n' },
    { path: `${name}/templates/deployment.yaml`, content: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n' },
    ...extra,
  ]);
}
