/**
 * RFC 9457 problem details for every error the agent service returns: a bad body, an
 * unknown route, a body over the size limit, a model failure. One builder, so every error
 * has the same shape (`problemSchema` in schemas.ts) and the `application/problem+json`
 * media type, and a client can tell a field error from a server fault by `status`.
 *
 * Statuses: 400 the body is not JSON (or not an object); 422 it is JSON but fails the
 * request schema (each field named in `errors`); 413 it is over the size limit (RFC 9110's
 * "Content Too Large"); 415 it is not JSON at all; 404 unknown route; 500 the model failed.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { type Problem, problemSchema } from "./schemas.ts";

export const PROBLEM_MEDIA_TYPE = "application/problem+json";

/**
 * An error response as a route's schema declares it: problem details under
 * `application/problem+json`, the media type `sendProblem` serves. A bare `problemSchema`
 * would be documented as `application/json`, which no error of the service is.
 */
export function problemResponse(description: string) {
  return { description, content: { [PROBLEM_MEDIA_TYPE]: { schema: problemSchema } } };
}

/** The errors every route with a JSON body can answer, by status (see the header). */
export const PROBLEM_RESPONSES = {
  400: problemResponse("Malformed body: not JSON, or not an object."),
  404: problemResponse("No such route."),
  413: problemResponse("Body over the size limit."),
  415: problemResponse("Body not sent as application/json."),
  422: problemResponse("Body fails the request schema; each field named in `errors`."),
  500: problemResponse("The model failed."),
};

/** Problem type URIs: relative references, resolved against the service (RFC 9457 §3.1.1). */
export const PROBLEM_TYPES = {
  invalidBody: "/problems/invalid-body",
  malformedBody: "/problems/malformed-body",
  bodyTooLarge: "/problems/body-too-large",
  unsupportedMediaType: "/problems/unsupported-media-type",
  notFound: "/problems/not-found",
  modelFailed: "/problems/model-failed",
  noPreviousModel: "/problems/no-previous-model",
} as const;

/** `state[3]`, `states[2][0]`, or `body` for the body itself. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "body" : out;
}

/** A zod error as problem details: 422 with one entry per issue. */
export function validationProblem(error: z.ZodError, instance: string): Problem {
  const errors = error.issues.map((iss) => ({ field: fieldPath(iss.path), code: iss.code, message: iss.message }));
  return {
    type: PROBLEM_TYPES.invalidBody,
    title: "Request body fails validation",
    status: 422,
    detail: errors.map((e) => `${e.field}: ${e.message}`).join("; "),
    instance,
    errors,
  };
}

/** Any error thrown while handling a request, as problem details. */
export function problemFor(err: FastifyError | Error, instance: string): Problem {
  if (err instanceof z.ZodError) return validationProblem(err, instance);
  const { code, statusCode } = err as FastifyError;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problem(PROBLEM_TYPES.bodyTooLarge, "Request body too large", 413, err.message, instance, "body");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem(
        PROBLEM_TYPES.unsupportedMediaType,
        "Unsupported media type",
        415,
        `${err.message}; send application/json`,
        instance,
        "content-type",
      );
    default:
      break;
  }
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    // The body did not parse (bad JSON, empty body with a JSON content type).
    return problem(PROBLEM_TYPES.malformedBody, "Malformed request body", 400, err.message, instance, "body");
  }
  return {
    type: PROBLEM_TYPES.modelFailed,
    title: "The model could not decide",
    status: 500,
    detail: err.message,
    instance,
  };
}

function problem(
  type: string,
  title: string,
  status: number,
  detail: string,
  instance: string,
  field: string,
): Problem {
  return {
    type,
    title,
    status,
    detail,
    instance,
    errors: [{ field, code: type.slice("/problems/".length), message: detail }],
  };
}

export function notFoundProblem(request: FastifyRequest): Problem {
  return {
    type: PROBLEM_TYPES.notFound,
    title: "Not found",
    status: 404,
    detail: `No route ${request.method} ${request.url}`,
    instance: request.url,
  };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_MEDIA_TYPE).send(JSON.stringify(p));
}
