/**
 * Registers every state codec defined beside obs-v1 (harness/core/codecs.ts registers obs-v1
 * itself): each codec module registers itself on import, and this is the one import that
 * the policies, cards, training, export and the agent service need for all of them. A new
 * codec is added here, once.
 */
import "./obs-v1-stack.ts";
import "./obs-v2.ts";
