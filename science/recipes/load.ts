// Resolves a recipe argument: `builtin:NAME` or a path to a JSON / YAML recipe file.
import { echo } from '../../schema/echo.js';
import { InvalidRecipeError, parseRecipe, type Recipe } from '../../schema/recipe.js';
import { readStructuredFile } from '../input-files/structured-file.js';
import { builtinRecipe, builtinNamesHint } from './builtin.js';

export function loadRecipe(arg: string): Recipe {
  if (arg.startsWith('builtin:')) {
    const name = arg.slice('builtin:'.length);
    const recipe = builtinRecipe(name);
    if (!recipe) throw new InvalidRecipeError(`recipe: unknown builtin "${echo(name)}" (${builtinNamesHint(name)})`);
    return recipe;
  }
  const data = readStructuredFile(arg, {
    label: 'recipe',
    format: /\.ya?ml$/i.test(arg) ? 'yaml' : 'json',
    fail: (message) =>
      new InvalidRecipeError(message.endsWith(' does not exist') ? `recipe: file ${message.slice('recipe: '.length)} (use builtin:NAME for a builtin recipe)` : message),
  });
  return parseRecipe(data);
}
