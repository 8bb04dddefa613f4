"""The last step of the demo (the seed's ``save_output``): move the products into place."""

import os
import shutil


def save_output(pipeline, old_stack, new_stack, old_cat, new_cat):
    """Move the final stack (and its weight map) and catalog out of the temp folder."""
    old_weight = old_stack.replace(".fits", ".wtmap.fits")
    if os.path.isfile(old_weight):
        shutil.move(old_weight, new_stack.replace(".fits", ".wtmap.fits"))
    shutil.move(old_stack, new_stack)
    if os.path.abspath(old_cat) != os.path.abspath(new_cat):
        shutil.move(old_cat, new_cat)
    return {"status": "success", "summary": {"stack": os.path.basename(new_stack)}}
