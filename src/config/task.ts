import type { ModelTask } from './types.js';

/** The catalog's task for models.task: 'classification' is the documented synonym of 'imagenet'. */
export function catalogTaskOf(task: ModelTask): 'imagenet' | 'person' | 'detection' {
  return task === 'classification' ? 'imagenet' : task;
}
