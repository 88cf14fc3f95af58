/**
 * One link per open notebook to its kernel's `sqlweave.lab` comm target. The kernel pushes
 * the graph and the schema after every cell; the link only (re)opens the comm: when the
 * notebook opens, after each executed cell (so a later `%load_ext sqlweave` connects), and
 * after a restart. Kernels of other languages are left alone.
 *
 * `%load_ext sqlweave` also opens a comm from the kernel side: that comm_open comes on IOPub
 * and is handled at once, while one sent from here is a shell message that waits behind every
 * queued cell of a "Run All". Each kernel gets a comm target of the same name, and the
 * notebook's link adopts the comm (closing a frontend-opened one still waiting for its answer).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Token } from '@lumino/coreutils';

import {
  COMM_TARGET,
  IGraphMessage,
  ISchemaMessage,
  parseKernelMessage,
  request,
  Scope
} from './contract';

export type LinkState = 'no-kernel' | 'not-loaded' | 'connecting' | 'connected' | 'unsupported';

/** Performance marks the benchmark reads (bench/lab.py). */
export const MARK_RECEIVED = 'sqlweave:graph-received';
export const MARK_EXECUTED = 'sqlweave:cell-executed';

export class KernelLink implements IDisposable {
  constructor(readonly panel: NotebookPanel) {
    panel.sessionContext.kernelChanged.connect(this._reset, this);
    panel.sessionContext.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'dead' || status === 'autorestarting') {
        this._reset();
      }
    });
    void panel.sessionContext.ready.then(() => this.connect());
  }

  get isDisposed(): boolean {
    return this._disposed;
  }
  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get state(): LinkState {
    return this._state;
  }
  get graph(): IGraphMessage | null {
    return this._graph;
  }
  get schema(): ISchemaMessage | null {
    return this._schema;
  }
  get error(): string | null {
    return this._error;
  }
  get scope(): Scope {
    return this._scope;
  }

  /** Ask for the graph in another scope (the kernel answers with a graph message). */
  setScope(scope: Scope): void {
    this._scope = scope;
    if (this._comm && this._state === 'connected') {
      this._comm.send(request(scope) as any);
    }
    this._changed.emit();
  }

  /** Open the comm unless it is open, opening, or the kernel is not Python. */
  async connect(): Promise<void> {
    const kernel = this.panel.sessionContext.session?.kernel;
    if (this._disposed || !kernel) {
      this._setState('no-kernel');
      return;
    }
    if (this._comm || this._state === 'unsupported') {
      return;
    }
    let info: KernelMessage.IInfoReply | undefined;
    try {
      info = await kernel.info;
    } catch {
      return;
    }
    if (info?.language_info?.name !== 'python') {
      this._setState('unsupported');
      return;
    }
    if (this._comm || kernel !== this.panel.sessionContext.session?.kernel) {
      return; // another connect won, or the kernel changed meanwhile
    }
    const comm = kernel.createComm(COMM_TARGET);
    this._wire(comm);
    this._setState('connecting');
    try {
      comm.open(request(this._scope) as any);
    } catch {
      this._comm = null;
      this._setState('not-loaded');
    }
  }

  /**
   * Take a comm the kernel opened. Returns false when this link already has a live one (the
   * caller closes the new comm, so a notebook never has two).
   */
  adopt(comm: Kernel.IComm, data: unknown): boolean {
    if (this._disposed || (this._comm && this._state === 'connected')) {
      return false;
    }
    this._closeComm(); // a frontend-opened comm still queued behind the running cells
    this._wire(comm);
    this._setState('connecting');
    if (data && typeof data === 'object' && Object.keys(data).length > 0) {
      this._onMessage(comm, data);
    }
    return true;
  }

  /** A cell of this notebook finished: connect if not connected yet. */
  cellExecuted(): void {
    performance.mark(MARK_EXECUTED);
    if (!this._comm) {
      void this.connect();
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._closeComm();
    Signal.clearData(this);
  }

  private _wire(comm: Kernel.IComm): void {
    this._comm = comm;
    comm.onMsg = msg => this._onMessage(comm, msg.content.data);
    comm.onClose = () => {
      // the target is not registered (no %load_ext yet) or the kernel went away
      if (this._comm === comm) {
        this._comm = null;
        this._setState('not-loaded');
      }
    };
  }

  private _onMessage(comm: Kernel.IComm, data: unknown): void {
    if (comm !== this._comm) {
      return;
    }
    const msg = parseKernelMessage(data);
    if (!msg) {
      return;
    }
    if (msg.type === 'graph') {
      performance.mark(MARK_RECEIVED);
      this._graph = msg;
      this._error = null;
    } else if (msg.type === 'schema') {
      this._schema = msg;
    } else {
      this._error = msg.message;
    }
    this._state = 'connected';
    this._changed.emit();
  }

  private _reset(): void {
    this._closeComm();
    this._graph = null;
    this._schema = null;
    this._error = null;
    this._state = 'no-kernel';
    this._changed.emit();
    void this.panel.sessionContext.ready.then(() => this.connect());
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // the kernel is gone already
      }
    }
  }

  private _setState(state: LinkState): void {
    if (state !== this._state) {
      this._state = state;
      this._changed.emit();
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _state: LinkState = 'no-kernel';
  private _graph: IGraphMessage | null = null;
  private _schema: ISchemaMessage | null = null;
  private _error: string | null = null;
  private _scope: Scope = 'notebook';
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

/** The links of all open notebooks, and which one is current. */
export interface IKernelLinks {
  readonly current: KernelLink | null;
  /** Emitted when the current notebook changes or its link has news. */
  readonly changed: ISignal<IKernelLinks, KernelLink | null>;
  linkFor(panel: NotebookPanel): KernelLink;
}

export const IKernelLinks = new Token<IKernelLinks>(
  'sqlweave:IKernelLinks',
  'The sqlweave comm link of every open notebook.'
);

class KernelLinks implements IKernelLinks {
  constructor(private readonly tracker: INotebookTracker) {
    tracker.widgetAdded.connect((_, panel) => this.linkFor(panel));
    tracker.currentChanged.connect(() => this._changed.emit(this.current));
    NotebookActions.executed.connect((_, { notebook }) => {
      const panel = tracker.find(p => p.content === notebook);
      if (panel) {
        this.linkFor(panel).cellExecuted();
      }
    });
  }

  get current(): KernelLink | null {
    const panel = this.tracker.currentWidget;
    return panel ? this.linkFor(panel) : null;
  }

  get changed(): ISignal<IKernelLinks, KernelLink | null> {
    return this._changed;
  }

  linkFor(panel: NotebookPanel): KernelLink {
    let link = this._links.get(panel);
    if (!link) {
      const made = new KernelLink(panel);
      link = made;
      this._links.set(panel, made);
      made.changed.connect(() => {
        // news from a notebook in the background is kept, and shown when it comes forward
        if (this.tracker.currentWidget === panel) {
          this._changed.emit(made);
        }
      });
      panel.disposed.connect(() => {
        this._links.delete(panel);
        made.dispose();
      });
      const watch = () => this._watchKernel(panel.sessionContext.session?.kernel ?? null);
      panel.sessionContext.kernelChanged.connect(watch);
      void panel.sessionContext.ready.then(watch);
      watch();
    }
    return link;
  }

  /** Register the comm target on a kernel once (the registry outlives its restarts). */
  private _watchKernel(kernel: Kernel.IKernelConnection | null): void {
    if (!kernel || kernel.isDisposed || this._kernels.has(kernel)) {
      return;
    }
    this._kernels.add(kernel);
    kernel.registerCommTarget(COMM_TARGET, (comm, msg) => {
      for (const [panel, link] of this._links) {
        if (panel.sessionContext.session?.kernel === kernel && link.adopt(comm, msg.content.data)) {
          return;
        }
      }
      comm.close(); // every notebook on this kernel has a comm already
    });
  }

  private _links = new Map<NotebookPanel, KernelLink>();
  private _kernels = new WeakSet<Kernel.IKernelConnection>();
  private _changed = new Signal<IKernelLinks, KernelLink | null>(this);
}

export const linksPlugin: JupyterFrontEndPlugin<IKernelLinks> = {
  id: 'sqlweave:kernel-links',
  description: 'Connects each notebook to its kernel’s sqlweave comm.',
  autoStart: true,
  requires: [INotebookTracker],
  provides: IKernelLinks,
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => new KernelLinks(tracker)
};

// type-only import kept at the end: KernelMessage is a namespace of types
import type { KernelMessage } from '@jupyterlab/services';
