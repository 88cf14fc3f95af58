/**
 * Layouts for the panel: computed in a Web Worker (layoutWorker.ts) and cached by key. Only
 * the newest request matters: while the worker is busy, a newer request replaces a waiting
 * one instead of queueing behind it. Where a worker cannot start or load (no Worker, a
 * blocked URL), layouts are computed on the main thread instead.
 */
import { ILayout, ILayoutRequest, layout, layoutKey } from './layout';
import type { IWorkerReply, IWorkerRequest } from './layoutWorker';

const CACHE_SIZE = 8;
/** The rejection of a request that a newer one replaced before it started. */
export const SUPERSEDED = 'superseded';

interface IJob {
  key: string;
  request: ILayoutRequest;
  resolve: (layout: ILayout) => void;
  reject: (err: Error) => void;
}

/** Where the last layout was computed. */
export type LayoutThread = 'none yet' | 'worker' | 'main thread';

export class LayoutService {
  /** Where the last layout was computed (the browser tests check it is the worker). */
  get thread(): LayoutThread {
    return this._thread;
  }

  /** A cached layout, or undefined. */
  cached(key: string): ILayout | undefined {
    const hit = this._cache.get(key);
    if (hit) {
      this._cache.delete(key); // most recently used last
      this._cache.set(key, hit);
    }
    return hit;
  }

  /** The layout of `request`; rejects with SUPERSEDED when a newer request replaced it. */
  compute(request: ILayoutRequest): Promise<ILayout> {
    const key = layoutKey(request);
    const hit = this.cached(key);
    if (hit) {
      return Promise.resolve(hit);
    }
    return new Promise<ILayout>((resolve, reject) => {
      this._waiting?.reject(new Error(SUPERSEDED));
      this._waiting = { key, request, resolve, reject };
      this._next();
    });
  }

  dispose(): void {
    this._worker?.terminate();
    this._worker = null;
  }

  private _next(): void {
    if (this._running || !this._waiting) {
      return;
    }
    const job = this._waiting;
    this._waiting = null;
    this._running = job;
    const worker = this._startWorker();
    if (worker) {
      const message: IWorkerRequest = { id: ++this._id, request: job.request };
      worker.postMessage(message);
    } else {
      this._onMainThread(job);
    }
  }

  private _finish(job: IJob, result: ILayout | Error): void {
    if (this._running !== job) {
      return;
    }
    this._running = null;
    if (result instanceof Error) {
      job.reject(result);
    } else {
      this._cache.set(job.key, result);
      while (this._cache.size > CACHE_SIZE) {
        this._cache.delete(this._cache.keys().next().value as string);
      }
      job.resolve(result);
    }
    this._next();
  }

  private _onMainThread(job: IJob): void {
    // yield first, so the message that asked is handled and the browser paints
    window.setTimeout(() => {
      let result: ILayout | Error;
      try {
        result = layout(job.request);
        this._thread = 'main thread';
      } catch (err) {
        result = err instanceof Error ? err : new Error(String(err));
      }
      this._finish(job, result);
    }, 0);
  }

  private _startWorker(): Worker | null {
    if (this._worker !== undefined) {
      return this._worker;
    }
    try {
      // webpack (JupyterLab's extension build) bundles this file as a worker chunk
      const worker = new Worker(new URL('./layoutWorker.js', import.meta.url));
      worker.onmessage = (ev: MessageEvent<IWorkerReply>) => {
        const job = this._running;
        if (job && ev.data.id === this._id) {
          this._thread = 'worker';
          this._finish(job, ev.data.layout ?? new Error(ev.data.error ?? 'layout failed'));
        }
      };
      worker.onerror = ev => {
        // the worker script could not load or crashed: the main thread lays out from now on
        ev.preventDefault();
        worker.terminate();
        this._worker = null;
        if (this._running) {
          this._onMainThread(this._running);
        }
      };
      this._worker = worker;
    } catch {
      this._worker = null;
    }
    return this._worker;
  }

  private _thread: LayoutThread = 'none yet';
  private _cache = new Map<string, ILayout>();
  private _waiting: IJob | null = null;
  private _running: IJob | null = null;
  private _id = 0;
  private _worker: Worker | null | undefined = undefined;
}
