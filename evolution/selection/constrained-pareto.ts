// INTERIM (replaced by the curator helper's module at merge).
export interface CurationItem { id: string; niche: string; gbPerGpu: number; kl: number; violation: number }
export interface Curated { id: string; niche: string; rank: number; crowding: number; reason: 'niche-best' | 'front' }
export function curate(items: readonly CurationItem[], count: number): Curated[] {
  const sorted = [...items].sort((a, b) => a.violation - b.violation || a.kl - b.kl || a.gbPerGpu - b.gbPerGpu || (a.id < b.id ? -1 : 1));
  return sorted.slice(0, count).map((c, i) => ({ id: c.id, niche: c.niche, rank: i, crowding: 0, reason: 'front' }));
}
