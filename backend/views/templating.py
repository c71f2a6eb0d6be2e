from fastapi.templating import Jinja2Templates

from backend.core.config import REPO_ROOT

TEMPLATES_DIR = REPO_ROOT / "frontend" / "templates"
STATIC_DIR = REPO_ROOT / "frontend" / "static"
NODE_MODULES = REPO_ROOT / "frontend" / "node_modules"
# Front-end libraries come from npm; only their distribution folders are served.
VENDOR_DIRS = {
    "openseadragon": NODE_MODULES / "openseadragon" / "build" / "openseadragon",
    "htmx": NODE_MODULES / "htmx.org" / "dist",
}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
