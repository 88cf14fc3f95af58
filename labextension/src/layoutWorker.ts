/**
 * The layout worker: dagre runs here, off the main thread, so typing and scrolling stay
 * smooth while a big graph is laid out. Built by JupyterLab's webpack as its own chunk
 * (see layoutService.ts); one request in, one layout out, tagged with the request's id.
 */
import { ILayout, ILayoutRequest, layout } from './layout';

export interface IWorkerRequest {
  id: number;
  request: ILayoutRequest;
}

export interface IWorkerReply {
  id: number;
  layout?: ILayout;
  error?: string;
}

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<IWorkerRequest>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = ev => {
  const { id, request } = ev.data;
  try {
    scope.postMessage({ id, layout: layout(request) });
  } catch (err) {
    scope.postMessage({ id, error: String(err) });
  }
};
