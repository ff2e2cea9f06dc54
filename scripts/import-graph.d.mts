// Types for scripts/import-graph.mjs, which test/unit/layers.test.ts imports.
export interface Edge {
  from: string;
  to: string;
  fromFile: string;
  toFile: string;
  typeOnly: boolean;
}
export interface Rule {
  name: string;
  forbids(edge: Edge): boolean;
}
export interface Analysis {
  edges: Edge[];
  counts: { edge: string; imports: number; typeOnly: number; files: number; pairs: number }[];
  forbidden: (Edge & { rule: string })[];
  servicesOnStorage: string[];
}
export function layerOf(rel: string): string;
export const RULES: Rule[];
export const SERVICES_ON_STORAGE: string[];
export function analyse(srcDir: string): Analysis;
