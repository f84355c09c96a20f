// Resolves a recipe argument: `builtin:NAME` or a path to a JSON / YAML recipe file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InvalidRecipeError, parseRecipe, type Recipe } from '../../schema/recipe.js';
import { builtinRecipe, builtinRecipeNames } from './builtin.js';

export function loadRecipe(arg: string): Recipe {
  if (arg.startsWith('builtin:')) {
    const name = arg.slice('builtin:'.length);
    const recipe = builtinRecipe(name);
    if (!recipe) throw new InvalidRecipeError(`recipe: unknown builtin "${name}" (known: ${builtinRecipeNames().join(', ')})`);
    return recipe;
  }
  if (!existsSync(arg)) throw new InvalidRecipeError(`recipe: file ${arg} does not exist (use builtin:NAME for a builtin recipe)`);
  if (!statSync(arg).isFile()) throw new InvalidRecipeError(`recipe: ${arg} is ${statSync(arg).isDirectory() ? 'a directory' : 'not a regular file'}, not a recipe file`);
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (err) {
    throw new InvalidRecipeError(`recipe: ${arg} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(arg) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new InvalidRecipeError(`recipe: ${arg} is not valid ${/\.ya?ml$/i.test(arg) ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})`);
  }
  return parseRecipe(data);
}
