import { parseChartYaml } from './src/domain/helm/chart-yaml.js';
for (const n of [5000, 20000, 100000, 500000]) {
  const s = '['.repeat(n) + ']'.repeat(n);
  console.time(String(n));
  try { parseChartYaml(Buffer.from(s)); } catch (e: any) { console.log(String(e.body?.error ?? e).slice(0, 100)); }
  console.timeEnd(String(n));
}
const s2 = 'a: ' + '- '.repeat(200000) + 'x\n';
console.time('dash'); try { parseChartYaml(Buffer.from(s2)); } catch (e: any) { console.log(String(e.body?.error ?? e).slice(0, 100)); } console.timeEnd('dash');
