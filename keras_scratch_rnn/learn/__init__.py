"""Tools for learning what the layers do: `explain` (every argument, in
English and Japanese), its live demonstrations (`demos`), the gradient-flow
study (`gradflow`), figures and the generated docs (`docs_gen`)."""
